; syscall_sysret: 64-bit SYSCALL and SYSRET (SDM vol. 2 SYSCALL, SYSRET,
; SWAPGS; vol. 3A 5.8.8): SYSRET to 64-bit ring 3 with the selectors from
; STAR[63:48], SYSCALL to the LSTAR entry with CS/SS from STAR[47:32], RCX =
; the return address, R11 = RFLAGS, RFLAGS masked by SFMASK, SWAPGS
; exchanging GS.base with KERNEL_GS_BASE, then SYSRET without REX.W to
; compatibility-mode ring 3 and INT from there back to the 64-bit kernel.
; SYSCALL runs with no arithmetic flag set: the nested KVM sandbox's CPU is
; QEMU TCG, whose SYSCALL drops them (the SDM keeps every bit not in SFMASK;
; the interpreter does), so a set CF would only test the sandbox.
%include "rom.inc"
%include "serial.inc"
%include "exit.inc"
%include "pm.inc"
%include "ring.inc"

MSR_EFER     equ 0xC0000080
MSR_STAR     equ 0xC0000081
MSR_LSTAR    equ 0xC0000082
MSR_FMASK    equ 0xC0000084
MSR_GS_BASE  equ 0xC0000101
MSR_KGS_BASE equ 0xC0000102

PERCPU     equ 0x6800       ; kernel GS area: [+0] self, [+8] kernel RSP, [+16] user RSP
USER_GS    equ 0x6C00       ; user GS area: [+0] self
FMASK      equ 0x40600      ; AC, DF, IF
USER_FLAGS equ 0x43003      ; AC, IOPL 3, CF: what SYSRET loads from R11
SC_FLAGS   equ 0x43402      ; AC, IOPL 3, DF: at SYSCALL (no CF, see above)
V_RCX      equ REC + 0
V_R11      equ REC + 8
V_FLAGS    equ REC + 16
V_RSP      equ REC + 24
V_FUNC     equ REC + 32
VEC_BACK   equ 0x28         ; INT 28h: from compatibility mode back to the kernel

start:
    REAL_INIT
    call install_unexpected16
    call serial_init16
    PUTS `syscall_sysret: entering long mode\n`
    ENTER_PM32 pm_entry

    bits 32
pm_entry:
    PM32_INIT
    call install_unexpected32
    call build_long_tables
    call user_long_tables
    call install_sys_gdt
    ENTER_LONG lm_entry

    bits 64
lm_entry:
    mov ax, K_DATA64
    mov ss, ax
    mov rsp, STACK_TOP
    call install_unexpected64
    mov qword [SYS_TSS + 4], KSTACK_TOP
    LOAD_TR
    mov eax, VEC_BACK
    mov rdx, back_from_compat
    mov bx, 0x00EE              ; interrupt gate, DPL 3, no IST
    call idt64_gate

    mov ecx, MSR_EFER
    rdmsr
    or eax, 1                   ; SCE
    wrmsr
    mov ecx, MSR_STAR
    xor eax, eax
    mov edx, STAR_VALUE >> 32
    wrmsr
    mov ecx, MSR_LSTAR
    mov eax, syscall_entry
    xor edx, edx
    wrmsr
    mov ecx, MSR_FMASK
    mov eax, FMASK
    wrmsr
    mov qword [PERCPU], PERCPU
    mov qword [PERCPU + 8], KSTACK_TOP
    mov qword [USER_GS], USER_GS
    mov ecx, MSR_GS_BASE
    mov eax, USER_GS
    wrmsr
    mov ecx, MSR_KGS_BASE
    mov eax, PERCPU
    wrmsr
    PUTS `STAR=`
    mov rax, STAR_VALUE
    PUTHEX rax, 16
    PUTS ` SFMASK=`
    PUTHEX FMASK, 8
    PUTS ` GS.base=`
    PUTHEX USER_GS, 8
    PUTS ` KERNEL_GS_BASE=`
    PUTHEX PERCPU, 8
    PUTS `\nSYSRET (REX.W) to 64-bit ring 3\n`

    mov rcx, user64
    mov r11, USER_FLAGS
    mov rsp, USTACK_TOP
    o64 sysret

; ---------------------------------------------------------------------------
; Ring 3, 64-bit (IOPL 3, so it prints itself).
user64:
    pushfq                      ; before anything changes the flags
    pop rbx
    PUTS `ring 3: CS=`
    mov eax, cs
    PUTHEX rax, 4
    CHECK rax, U_CODE64, `CS after SYSRET`
    PUTS ` SS=`
    mov eax, ss
    PUTHEX rax, 4
    CHECK rax, U_DATA, `SS after SYSRET`
    PUTS ` RFLAGS=`
    PUTHEX rbx, 8
    CHECK rbx, USER_FLAGS, `RFLAGS = R11 after SYSRET`
    PUTS ` [gs:0]=`
    mov rax, [gs:0]
    PUTHEX rax, 8
    PUTC `\n`
    CHECK rax, USER_GS, `user GS.base`

    mov eax, 1                  ; function 1: return to 64-bit ring 3
    push SC_FLAGS               ; DF: SFMASK clears it, R11 keeps it
    popfq
    syscall
.ret1:
    cld
    mov rbx, rcx
    mov rdx, r11
    PUTS `back in 64-bit ring 3: RCX=`
    PUTHEX rbx, 8
    lea rax, [rel .ret1]
    CHECK rbx, rax, `RCX kept through SYSRET`
    PUTS ` R11=`
    PUTHEX rdx, 8
    CHECK rdx, SC_FLAGS, `R11`
    PUTS ` [gs:0]=`
    mov rax, [gs:0]
    PUTHEX rax, 8
    PUTC `\n`
    CHECK rax, USER_GS, `user GS.base after the second SWAPGS`

    mov eax, 2                  ; function 2: return to compatibility mode
    push SC_FLAGS
    popfq
    syscall
    FAIL 0x40, `SYSCALL function 2 returned to 64-bit mode`

; ---------------------------------------------------------------------------
; Ring 0: the LSTAR entry, on the user's stack until it switches.
syscall_entry:
    swapgs
    mov [gs:16], rsp
    mov rsp, [gs:8]
    mov [V_RCX], rcx
    mov [V_R11], r11
    mov [V_FUNC], rax
    pushfq
    pop qword [V_FLAGS]
    PUTS `SYSCALL `
    PUTDEC qword [V_FUNC]
    PUTS `: CS=`
    mov eax, cs
    PUTHEX rax, 4
    CHECK rax, K_CODE64, `CS after SYSCALL`
    PUTS ` SS=`
    mov eax, ss
    PUTHEX rax, 4
    CHECK rax, K_DATA64, `SS after SYSCALL`
    PUTS ` RFLAGS=`
    mov rax, [V_FLAGS]
    PUTHEX rax, 8
    CHECK rax, (SC_FLAGS & ~FMASK), `RFLAGS masked by SFMASK`
    PUTS ` R11=`
    mov rax, [V_R11]
    PUTHEX rax, 8
    CHECK rax, SC_FLAGS, `R11 = RFLAGS before SYSCALL`
    PUTS ` user RSP=`
    mov rax, [gs:16]
    PUTHEX rax, 8
    CHECK rax, USTACK_TOP, `RSP unchanged by SYSCALL`
    PUTS `\n  RCX=`
    mov rax, [V_RCX]
    PUTHEX rax, 8
    cmp qword [V_FUNC], 1
    jne .rcx2
    CHECK rax, user64.ret1, `RCX = the instruction after SYSCALL`
.rcx2:
    PUTS ` after SWAPGS: [gs:0]=`
    mov rax, [gs:0]
    PUTHEX rax, 8
    CHECK rax, PERCPU, `kernel GS.base`
    mov ecx, MSR_GS_BASE
    rdmsr
    shl rdx, 32
    or rax, rdx
    PUTS ` GS.base=`
    PUTHEX rax, 8
    CHECK rax, PERCPU, `GS.base MSR after SWAPGS`
    mov ecx, MSR_KGS_BASE
    rdmsr
    shl rdx, 32
    or rax, rdx
    PUTS ` KERNEL_GS_BASE=`
    PUTHEX rax, 8
    PUTC `\n`
    CHECK rax, USER_GS, `KERNEL_GS_BASE after SWAPGS`

    mov rcx, [V_RCX]
    mov r11, [V_R11]
    mov rsp, [gs:16]
    swapgs
    cmp qword [V_FUNC], 1
    jne .compat
    o64 sysret
.compat:
    mov ecx, compat32
    mov r11d, 0x3002            ; IOPL 3
    sysret                      ; 32-bit operand size: CS = STAR[63:48]

; ---------------------------------------------------------------------------
    bits 32
compat32:                       ; ring 3, compatibility mode
    pushfd
    pop ebx
    PUTS `SYSRET (no REX.W) to compatibility mode: CS=`
    mov eax, cs
    PUTHEX eax, 4
    CHECK eax, U_CODE32, `CS after 32-bit SYSRET`
    PUTS ` SS=`
    mov eax, ss
    PUTHEX eax, 4
    CHECK eax, U_DATA, `SS after 32-bit SYSRET`
    PUTS ` EFLAGS=`
    PUTHEX ebx, 8
    PUTC `\n`
    CHECK ebx, 0x3002, `EFLAGS = R11D`
    int VEC_BACK
    FAIL 0x41, `INT returned to compatibility mode`

    bits 64
back_from_compat:               ; [rsp] RIP, CS, RFLAGS, RSP, SS
    PUTS `INT 28h from compatibility mode: frame CS=`
    mov rax, [rsp + 8]
    PUTHEX rax, 4
    CHECK rax, U_CODE32, `frame CS`
    PUTS ` SS=`
    mov rax, [rsp + 32]
    PUTHEX rax, 4
    CHECK rax, U_DATA, `frame SS`
    PUTS `, on the RSP0 stack: `
    lea rax, [rsp + 40]
    PUTHEX rax, 8
    PUTC `\n`
    CHECK rax, KSTACK_TOP, `RSP0 stack`
    PASS `syscall_sysret`

ROM_END
