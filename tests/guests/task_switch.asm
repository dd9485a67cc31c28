; task_switch: hardware task switching in 32-bit protected mode (SDM vol. 3A
; ch. 7, vol. 2 CALL, JMP, IRET, INT n): CALL to a 32-bit TSS (NT set, back
; link, both busy, CR0.TS set, the new task's registers and LDT) and IRET
; back (the old task's state saved in its TSS, the callee's busy bit clear),
; JMP to a TSS and back (no nesting), CALL through a task gate, a 16-bit TSS,
; #GP through an IDT task gate (error code on the new task's stack, the
; faulting EIP saved), INT n through a DPL 3 task gate from ring 3 to a ring-0
; task and IRET back to ring 3, CR3 from the TSS under paging (and not saved),
; and the faults: CALL to a busy TSS, JMP to the running task, a TSS below
; the minimum limit (#TS), IRET to a task that is not busy (#TS), a DPL 0 TSS
; from ring 3.
%include "rom.inc"
%include "serial.inc"
%include "exit.inc"
%include "pm.inc"
%include "ring.inc"
%include "trap.inc"

USER_FLAGS equ 0x3002          ; IOPL 3 (ring 3 prints), IF clear

TSS_B    equ 0x5900
TSS_C    equ 0x5A00            ; 16-bit
TSS_D    equ 0x5B00
TSS_E    equ 0x5C00            ; limit 50h: too small
LDT_B    equ 0x5D00
TSTACK_B equ 0xA000
TSTACK_C equ 0xA800
TSTACK_D equ 0xB000
LDT_DATA_BASE equ 0x12000
PD1      equ PT32_PD
PD2      equ PT32_PD + 0x1000

SEL_B    equ 0x70
SEL_C    equ 0x78
SEL_D    equ 0x80
GATE_B   equ 0x88 | 3          ; task gate DPL 3 -> SEL_B
SEL_E    equ 0x90
C16      equ 0x98              ; 16-bit code, DPL 0, base F0000
SEL_LDT  equ 0xA0
LDT_FS   equ 0x0C              ; LDT entry 1
EXTRA_END equ 0xA8

%define TSS32_DESC(base, limit) (0x0000890000000000 | ((base) << 16) | (limit))

; What the tasks record.
R_TR     equ REC + 0x00
R_LINK   equ REC + 0x04
R_NT     equ REC + 0x08
R_EAX    equ REC + 0x0C
R_TS     equ REC + 0x10
R_BUSY   equ REC + 0x14        ; bit 0: TSS A, 1: B, 2: C, 3: D
R_ESP    equ REC + 0x18
R_LDTR   equ REC + 0x1C
R_FSVAL  equ REC + 0x20
R_ERR    equ REC + 0x24
R_A_EIP  equ REC + 0x28        ; task A's TSS as the task saw it
R_A_CS   equ REC + 0x2C
R_A_SS   equ REC + 0x30
R_A_ESP  equ REC + 0x34
R_MARK   equ REC + 0x38
R_CS     equ REC + 0x3C
B_ACTION equ REC + 0x80        ; 0: IRET, 1: JMP to task A, 2: CALL task A (busy) first
D_HAS_ERR equ REC + 0x84
D_RESUME equ REC + 0x88        ; task D moves A's saved EIP here when not 0

start:
    REAL_INIT
    call install_unexpected16
    call serial_init16
    PUTS `task_switch: 32-bit protected mode\n`
    ENTER_PM32 pm_entry

; ===========================================================================
    bits 32
pm_entry:
    PM32_INIT
    call install_unexpected32
    call install_traps32
    call install_sys_gdt
    mov esi, extra_gdt
    mov edi, SYS_GDT + 0x70
    mov ecx, (extra_gdt_end - extra_gdt) / 4
    rep movsd
    lgdt [extra_gdt_desc]
    mov dword [LDT_B], 0
    mov dword [LDT_B + 4], 0
    mov dword [LDT_B + 8], 0x2000FFFF          ; base 12000h, limit FFFFh, data DPL 0
    mov dword [LDT_B + 12], 0x00009301
    mov dword [LDT_DATA_BASE], 0x1DA7A000
    mov dword [SYS_TSS + 4], KSTACK_TOP
    mov dword [SYS_TSS + 8], K_DATA
    LOAD_TR                                    ; task A: this code

    mov edi, TSS_B
    mov eax, task_b
    mov edx, TSTACK_B
    call init_tss32
    mov dword [TSS_B + 0x28], 0xB0B0B0B0       ; EAX
    mov dword [TSS_B + 0x58], LDT_FS           ; FS from the LDT
    mov dword [TSS_B + 0x60], SEL_LDT
    mov edi, TSS_D
    mov eax, task_d
    mov edx, TSTACK_D
    call init_tss32
    mov edi, TSS_E
    mov eax, task_b
    mov edx, TSTACK_B
    call init_tss32
    ; The 16-bit TSS.
    mov edi, TSS_C
    mov ecx, 0x2C / 4
    xor eax, eax
    rep stosd
    mov word [TSS_C + 0x0E], R(task_c)         ; IP
    mov word [TSS_C + 0x10], 2                 ; FLAGS
    mov word [TSS_C + 0x12], 0xC0C0            ; AX
    mov word [TSS_C + 0x1A], TSTACK_C          ; SP
    mov word [TSS_C + 0x22], K_DATA            ; ES
    mov word [TSS_C + 0x24], C16               ; CS
    mov word [TSS_C + 0x26], K_DATA            ; SS
    mov word [TSS_C + 0x28], K_DATA            ; DS

    ; --- CALL to a 32-bit TSS and IRET back ---
    PUTS `CALL 0070 (32-bit TSS):`
    mov dword [B_ACTION], 2
    clts
    mov edx, 0xD0D0D0D0
    mov ebp, 0xBBBB0000
    mov eax, 0xA0A0A0A0
    call SEL_B:0
.after_call:
    call print_rec
    CHECK dword [R_TR], SEL_B, `STR in the called task`
    CHECK dword [R_LINK], SEL_TSS, `back link: the caller's TSS`
    CHECK dword [R_NT], 1, `CALL sets NT in the new task`
    CHECK dword [R_EAX], 0xB0B0B0B0, `EAX from the new TSS`
    CHECK dword [R_TS], 1, `CR0.TS set by the switch`
    CHECK dword [R_BUSY], 3, `caller and callee busy`
    CHECK dword [R_ESP], TSTACK_B, `ESP from the new TSS`
    CHECK dword [R_LDTR], SEL_LDT, `LDTR from the new TSS`
    CHECK dword [R_FSVAL], 0x1DA7A000, `FS loaded through the new LDT`
    CHECK dword [R_A_EIP], .after_call, `the caller's EIP saved in its TSS`
    CHECK eax, 0xA0A0A0A0, `EAX back from the caller's TSS`
    CHECK edx, 0xD0D0D0D0, `EDX back`
    CHECK ebp, 0xBBBB0000, `EBP back`
    EXPECT 13, SEL_TSS, task_b.f_busy, NO_CR2, `CALL 0040 (the busy caller) in task B: #GP(TSS)`
    call print_after
    CHECK dword [R_BUSY], 1, `after IRET: the callee is not busy`
    CHECK dword [TSS_B + 0x34], 0x12345678, `EBX saved in task B's TSS`
    CHECK dword [TSS_B + 0x20], task_b.after_iret, `EIP saved in task B's TSS`

    ; --- JMP to a TSS and back ---
    PUTS `JMP 0070:`
    mov dword [B_ACTION], 1
    jmp SEL_B:0
.after_jmp:
    call print_rec
    CHECK dword [R_NT], 0, `JMP leaves NT clear`
    CHECK dword [R_BUSY], 2, `JMP: only the new task is busy`
    call print_after
    CHECK dword [R_BUSY], 1, `JMP back: only task A is busy`

    ; --- CALL through a task gate ---
    PUTS `CALL 008B (task gate to 0070):`
    mov dword [B_ACTION], 0
    call GATE_B:0
    call print_rec
    CHECK dword [R_NT], 1, `CALL through a task gate nests`
    CHECK dword [R_LINK], SEL_TSS, `back link`

    ; --- a 16-bit TSS ---
    PUTS `CALL 0078 (16-bit TSS):`
    call SEL_C:0
.after_c:
    call print_rec
    CHECK dword [R_EAX], 0xC0C0, `AX from the 16-bit TSS`
    CHECK dword [R_ESP], TSTACK_C, `SP from the 16-bit TSS`
    CHECK dword [R_CS], C16, `CS from the 16-bit TSS`
    CHECK dword [R_A_EIP], .after_c, `EIP saved in task A's TSS`
    CHECK dword [R_BUSY], 5, `task A and the 16-bit TSS busy`
    PUTS ` saved in the 16-bit TSS: link `
    movzx eax, word [TSS_C]
    PUTHEX eax, 4
    PUTS ` IP `
    movzx ebx, word [TSS_C + 0x0E]
    PUTHEX ebx, 4
    PUTS ` AX `
    movzx ecx, word [TSS_C + 0x12]
    PUTHEX ecx, 4
    PUTS ` SP `
    movzx edx, word [TSS_C + 0x1A]
    PUTHEX edx, 4
    PUTC `\n`
    CHECK eax, SEL_TSS, `16-bit back link`
    CHECK ebx, R(task_c.after_iret), `IP saved in the 16-bit TSS`
    CHECK ecx, 0xC1C1, `AX saved in the 16-bit TSS`
    CHECK edx, TSTACK_C, `SP saved in the 16-bit TSS`

    ; --- #GP through a task gate ---
    PUTS `#GP through an IDT task gate:`
    mov dword [IDT32_BASE + 13 * 8], SEL_D << 16
    mov dword [IDT32_BASE + 13 * 8 + 4], 0x8500
    mov dword [D_HAS_ERR], 1
    mov dword [D_RESUME], .gp_resume
    mov ax, 0x1230
.gp_fault:
    mov ds, ax
.gp_resume:
    mov dword [D_HAS_ERR], 0
    mov dword [D_RESUME], 0
    mov eax, 13
    mov edx, [exc32_table + 13 * 4]
    call idt32_set
    call print_rec
    CHECK dword [R_ERR], 0x1230, `the error code on task D's stack`
    CHECK dword [R_ESP], TSTACK_D - 4, `task D's ESP below the error code`
    CHECK dword [R_A_EIP], .gp_fault, `task A's saved EIP: the faulting instruction`
    CHECK dword [R_NT], 1, `an exception through a task gate nests`

    ; --- faults ---
    TRY .r1
.f1: jmp SEL_TSS:0
.r1:
    EXPECT 13, SEL_TSS, .f1, NO_CR2, `JMP 0040 (the running task): #GP(TSS)`
    TRY .r2
.f2: call SEL_E:0
.r2:
    EXPECT 10, SEL_E, .f2, NO_CR2, `CALL 0090 (TSS limit 50h): #TS(TSS)`
    mov word [SYS_TSS], SEL_B                  ; a back link to a TSS that is not busy
    pushfd
    or dword [esp], 0x4000
    popfd
    TRY .r3
.f3: iretd
.r3:
    pushfd
    and dword [esp], ~0x4000
    popfd
    EXPECT 10, SEL_B, .f3, NO_CR2, `IRET with NT to a TSS that is not busy: #TS(link)`

    ; --- ring 3 ---
    mov dword [IDT32_BASE + 0x20 * 8], SEL_D << 16
    mov dword [IDT32_BASE + 0x20 * 8 + 4], 0xE500 ; task gate DPL 3 -> D
    mov eax, 0x21
    mov edx, ring0_cont
    mov bl, 0xEE
    call idt32_gate
    PUTS `IRET to ring 3\n`
    push U_DATA
    push USTACK_TOP
    push USER_FLAGS
    push U_CODE32
    push user32
    iretd

user32:
    mov ax, U_DATA
    mov ds, ax
    mov es, ax
    PUTS `INT 20h (task gate DPL 3 to a ring-0 task) from ring 3:`
    mov esi, 0x5A5A5A5A
    int 0x20
.after_int:
    call print_rec
    CHECK dword [R_CS], K_CODE32, `task D runs in ring 0`
    CHECK dword [R_A_CS], U_CODE32, `task A's CS saved: ring 3`
    CHECK dword [R_A_SS], U_DATA, `task A's SS saved`
    CHECK dword [R_A_ESP], USTACK_TOP, `task A's ESP saved`
    CHECK dword [R_A_EIP], .after_int, `INT n saves the next EIP`
    mov eax, cs
    mov ebx, ss
    mov ecx, esp
    PUTS ` back in ring 3: CS=`
    PUTHEX eax, 4
    PUTS ` SS:ESP=`
    PUTHEX ebx, 4
    PUTC ':'
    PUTHEX ecx, 8
    PUTC `\n`
    CHECK eax, U_CODE32, `IRET from the task returns to ring 3`
    CHECK ecx, USTACK_TOP, `ring 3 ESP`
    CHECK esi, 0x5A5A5A5A, `ring 3 ESI`
    TRY .r1
.f1: jmp SEL_B:0
.r1:
    EXPECT 13, SEL_B, .f1, NO_CR2, `JMP 0070 (TSS DPL 0) from ring 3: #GP(TSS)`
    PUTS `CALL 008B (task gate DPL 3) from ring 3:`
    call GATE_B:0
    call print_rec
    CHECK dword [R_A_CS], U_CODE32, `task A's CS saved: ring 3`
    int 0x21
    FAIL 0x50, `INT 21h returned`

; Ring 0 again: CR3 from the TSS under paging.
ring0_cont:
    mov ax, K_DATA
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, STACK_TOP
    mov dword [0x400000], 0x11111111
    mov dword [0x800000], 0x22222222
    mov edi, PD1
    mov ecx, 2 * 1024
    xor eax, eax
    rep stosd
    mov dword [PD1], 0x83                      ; 4 MiB pages: P, RW, PS
    mov dword [PD1 + 4], 0x400083
    mov dword [PD2], 0x83
    mov dword [PD2 + 4], 0x800083
    mov eax, cr4
    or eax, 0x10                               ; PSE
    mov cr4, eax
    mov eax, PD1
    mov cr3, eax
    mov [SYS_TSS + 0x1C], eax                  ; task A's CR3: a switch back loads it
    mov dword [TSS_D + 0x1C], PD2
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    PUTS `CALL 0080 with paging, task D's CR3 = 00011000:`
    call SEL_D:0
    mov eax, cr3
    mov ebx, [0x400000]
    PUTS ` [400000] in task D `
    PUTHEX [R_MARK], 8
    PUTS `, back in task A: CR3 `
    PUTHEX eax, 8
    PUTS ` [400000] `
    PUTHEX ebx, 8
    PUTC `\n`
    CHECK dword [R_MARK], 0x22222222, `task D sees its own page directory`
    CHECK eax, PD1, `CR3 from task A's TSS`
    CHECK ebx, 0x11111111, `task A's mapping`
    CHECK dword [SYS_TSS + 0x1C], PD1, `CR3 is not saved in the old TSS`
    PASS `task_switch`

; ---------------------------------------------------------------------------
; EDI: TSS base, EAX: EIP, EDX: ESP. Ring 0 flat segments, EFLAGS 2.
init_tss32:
    push eax
    push ecx
    push edi
    push eax
    mov ecx, 104 / 4
    xor eax, eax
    rep stosd
    pop eax
    pop edi
    mov [edi + 0x20], eax
    mov dword [edi + 0x24], 2
    mov [edi + 0x38], edx
    mov dword [edi + 0x48], K_DATA
    mov dword [edi + 0x4C], K_CODE32
    mov dword [edi + 0x50], K_DATA
    mov dword [edi + 0x54], K_DATA
    mov dword [edi + 0x58], K_DATA
    mov dword [edi + 0x5C], K_DATA
    mov word [edi + 0x66], 104
    pop ecx
    pop eax
    ret

; Records the running task's view (ESI: its TSS base). The caller's ESP is
; recorded as it was before the call.
%macro BUSY_BIT 2
    test byte [SYS_GDT + %1 + 5], 2
    jz %%no
    or eax, %2
%%no:
%endmacro
record_task:
    push eax
    mov [R_EAX], eax
    xor eax, eax
    str ax
    mov [R_TR], eax
    movzx eax, word [esi]
    mov [R_LINK], eax
    pushfd
    pop eax
    shr eax, 14
    and eax, 1
    mov [R_NT], eax
    mov eax, cr0
    shr eax, 3
    and eax, 1
    mov [R_TS], eax
    xor eax, eax
    BUSY_BIT SEL_TSS, 1
    BUSY_BIT SEL_B, 2
    BUSY_BIT SEL_C, 4
    BUSY_BIT SEL_D, 8
    mov [R_BUSY], eax
    lea eax, [esp + 8]
    mov [R_ESP], eax
    xor eax, eax
    sldt ax
    mov [R_LDTR], eax
    mov eax, cs
    mov [R_CS], eax
    mov eax, [SYS_TSS + 0x20]
    mov [R_A_EIP], eax
    mov eax, [SYS_TSS + 0x4C]
    mov [R_A_CS], eax
    mov eax, [SYS_TSS + 0x50]
    mov [R_A_SS], eax
    mov eax, [SYS_TSS + 0x38]
    mov [R_A_ESP], eax
    pop eax
    ret

print_rec:
    PUTS ` TR=`
    PUTHEX [R_TR], 4
    PUTS ` link=`
    PUTHEX [R_LINK], 4
    PUTS ` NT=`
    PUTDEC [R_NT]
    PUTS ` TS=`
    PUTDEC [R_TS]
    PUTS ` busy=`
    PUTHEX [R_BUSY], 1
    PUTS ` EAX=`
    PUTHEX [R_EAX], 8
    PUTS ` ESP=`
    PUTHEX [R_ESP], 8
    PUTS ` CS=`
    PUTHEX [R_CS], 4
    PUTS ` LDTR=`
    PUTHEX [R_LDTR], 4
    PUTS ` A.EIP=`
    PUTHEX [R_A_EIP], 8
    PUTC `\n`
    ret

; After a task switch back to task A: its busy bits and NT.
print_after:
    push eax
    push esi
    mov esi, SYS_TSS
    call record_task
    PUTS ` back in task A: TR=`
    PUTHEX [R_TR], 4
    PUTS ` NT=`
    PUTDEC [R_NT]
    PUTS ` busy=`
    PUTHEX [R_BUSY], 1
    PUTC `\n`
    CHECK dword [R_TR], SEL_TSS, `TR back to task A`
    CHECK dword [R_NT], 0, `NT clear in task A`
    pop esi
    pop eax
    ret

; --- task B (ring 0): records, then what B_ACTION says ---
task_b:
    mov esi, TSS_B
    call record_task
    mov eax, [fs:0]
    mov [R_FSVAL], eax
    cmp dword [B_ACTION], 1
    je .jmp_back
    cmp dword [B_ACTION], 2
    jne .ret
    TRY .r_busy
.f_busy:
    call SEL_TSS:0
.r_busy:
.ret:
    mov ebx, 0x12345678
    iretd
.after_iret:
    jmp task_b
.jmp_back:
    jmp SEL_TSS:0
    jmp task_b

; --- task D (ring 0): events through task gates, and CALL under paging ---
task_d:
    mov [R_ESP], esp
    cmp dword [D_HAS_ERR], 0
    je .no_error
    pop dword [R_ERR]
.no_error:
    push dword [R_ESP]
    mov esi, TSS_D
    call record_task
    pop dword [R_ESP]
    mov eax, [0x400000]
    mov [R_MARK], eax
    mov eax, [D_RESUME]
    test eax, eax
    jz .ret
    mov [SYS_TSS + 0x20], eax
.ret:
    iretd
    jmp task_d

; --- task C: 16-bit ---
    bits 16
task_c:                         ; the upper halves of registers are not the TSS's
    movzx eax, ax
    mov [R_EAX], eax
    xor eax, eax
    str ax
    mov [R_TR], eax
    mov ax, [TSS_C]
    mov [R_LINK], eax
    pushf
    pop ax
    shr ax, 14
    and eax, 1
    mov [R_NT], eax
    movzx eax, sp
    mov [R_ESP], eax
    mov eax, cs
    mov [R_CS], eax
    mov dword [R_LDTR], 0
    mov eax, cr0
    shr eax, 3
    and eax, 1
    mov [R_TS], eax
    xor eax, eax
    BUSY_BIT SEL_TSS, 1
    BUSY_BIT SEL_B, 2
    BUSY_BIT SEL_C, 4
    BUSY_BIT SEL_D, 8
    mov [R_BUSY], eax
    mov eax, [SYS_TSS + 0x20]
    mov [R_A_EIP], eax
    mov ax, 0xC1C1
    iret
.after_iret:
    jmp task_c

    align 8
extra_gdt:
    dq TSS32_DESC(TSS_B, 0x67)                         ; 0x70
    dq 0x0000810000000000 | (TSS_C << 16) | 0x2B       ; 0x78 16-bit TSS
    dq TSS32_DESC(TSS_D, 0x67)                         ; 0x80
    dq (SEL_B << 16) | (0xE5 << 40)                    ; 0x88 task gate DPL 3
    dq TSS32_DESC(TSS_E, 0x50)                         ; 0x90
    dq 0x00009B0F0000FFFF                              ; 0x98 code16, base F0000
    dq 0x0000820000000000 | (LDT_B << 16) | 0x0F       ; 0xA0 LDT
extra_gdt_end:

    bits 32
extra_gdt_desc:
    dw EXTRA_END - 1
    dd SYS_GDT

ROM_END
