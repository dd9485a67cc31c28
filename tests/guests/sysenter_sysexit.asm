; sysenter_sysexit: SYSENTER and SYSEXIT in 32-bit protected mode (SDM vol. 2
; SYSENTER, SYSEXIT; vol. 3A 5.8.7): SYSEXIT to ring 3 with CS =
; SYSENTER_CS + 16 and SS = SYSENTER_CS + 24, EIP = EDX, ESP = ECX; SYSENTER
; to ring 0 with CS = SYSENTER_CS, SS = SYSENTER_CS + 8, ESP and EIP from
; their MSRs and EFLAGS.IF/VM cleared.
%include "rom.inc"
%include "serial.inc"
%include "exit.inc"
%include "pm.inc"
%include "ring.inc"
%include "pic.inc"

MSR_SYSENTER_CS  equ 0x174
MSR_SYSENTER_ESP equ 0x175
MSR_SYSENTER_EIP equ 0x176
V_ESP   equ REC + 0         ; ring-0 ESP at the SYSENTER entry
V_FLAGS equ REC + 4
V_EDX   equ REC + 8
V_ECX   equ REC + 12
V_FUNC  equ REC + 16

start:
    REAL_INIT
    call install_unexpected16
    call serial_init16
    PUTS `sysenter_sysexit: entering 32-bit protected mode\n`
    ENTER_PM32 pm_entry

    bits 32
pm_entry:
    PM32_INIT
    call install_unexpected32
    call install_sys_gdt
    mov dword [SYS_TSS + 4], KSTACK_TOP
    mov dword [SYS_TSS + 8], K_DATA
    LOAD_TR
    PIC_INIT

    mov ecx, MSR_SYSENTER_CS
    mov eax, SE_CODE
    xor edx, edx
    wrmsr
    mov ecx, MSR_SYSENTER_ESP
    mov eax, KSTACK_TOP - 0x100
    wrmsr
    mov ecx, MSR_SYSENTER_EIP
    mov eax, sysenter_entry
    wrmsr
    PUTS `SYSENTER_CS=0050 SYSENTER_ESP=`
    PUTHEX KSTACK_TOP - 0x100, 8
    PUTS ` SYSENTER_EIP=sysenter_entry; SYSEXIT to ring 3\n`
    ; IOPL 3 for the ring-3 prints, and IF set: SYSENTER must clear it.
    push 0x3202
    popfd
    mov edx, user32
    mov ecx, USTACK_TOP
    sysexit

; ---------------------------------------------------------------------------
user32:                         ; ring 3
    pushfd                      ; before anything changes the flags
    pop ebx
    mov edi, esp
    PUTS `ring 3: CS=`
    mov eax, cs
    PUTHEX eax, 4
    CHECK eax, SE_UCODE, `CS = SYSENTER_CS + 16 | 3`
    PUTS ` SS=`
    mov eax, ss
    PUTHEX eax, 4
    CHECK eax, SE_UDATA, `SS = SYSENTER_CS + 24 | 3`
    PUTS ` ESP=`
    PUTHEX edi, 8
    CHECK edi, USTACK_TOP, `ESP = ECX`
    PUTS ` EFLAGS=`
    PUTHEX ebx, 8
    PUTC `\n`
    CHECK ebx, 0x3202, `EFLAGS kept by SYSEXIT`
    ; DS/ES still hold ring-0 selectors (SYSEXIT loads only CS and SS); load
    ; the user data selector as an OS would.
    mov ax, SE_UDATA
    mov ds, ax
    mov es, ax

    mov eax, 1
    mov edx, .ret1
    mov ecx, esp
    push 0x3203                 ; IF and CF: SYSENTER clears only IF (and VM)
    popfd
    sysenter
.ret1:
    mov edi, esp
    PUTS `back in ring 3 at the EDX given to SYSENTER, ESP=`
    PUTHEX edi, 8
    PUTC `\n`
    CHECK edi, USTACK_TOP, `ESP = ECX`
    mov eax, 2
    push 0x3203
    popfd
    sysenter
    FAIL 0x40, `SYSENTER function 2 returned`

; ---------------------------------------------------------------------------
sysenter_entry:                 ; ring 0, DS/ES still the user's
    mov [ss:V_ESP], esp
    mov [ss:V_EDX], edx
    mov [ss:V_ECX], ecx
    mov [ss:V_FUNC], eax
    pushfd
    pop dword [ss:V_FLAGS]
    mov ax, K_DATA
    mov ds, ax
    mov es, ax
    PUTS `SYSENTER `
    PUTDEC [V_FUNC]
    PUTS `: CS=`
    mov eax, cs
    PUTHEX eax, 4
    CHECK eax, SE_CODE, `CS = SYSENTER_CS`
    PUTS ` SS=`
    mov eax, ss
    PUTHEX eax, 4
    CHECK eax, SE_DATA, `SS = SYSENTER_CS + 8`
    PUTS ` ESP=`
    PUTHEX [V_ESP], 8
    CHECK dword [V_ESP], KSTACK_TOP - 0x100, `ESP = SYSENTER_ESP`
    PUTS ` EFLAGS=`
    PUTHEX [V_FLAGS], 8
    PUTC `\n`
    CHECK dword [V_FLAGS], 0x3003, `EFLAGS.IF cleared by SYSENTER`
    cmp dword [V_FUNC], 1
    jne .done
    mov ax, SE_UDATA
    mov ds, ax
    mov es, ax
    mov edx, [ss:V_EDX]
    mov ecx, [ss:V_ECX]
    sti                         ; SYSEXIT leaves EFLAGS alone: IF back on for ring 3
    sysexit
.done:
    PASS `sysenter_sysexit`

ROM_END
