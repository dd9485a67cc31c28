; vm86: virtual-8086 mode and the virtual interrupt extensions (SDM vol. 3A
; ch. 20; vol. 2 CLI, STI, PUSHF, POPF, INT n, IRET): entering through IRET
; with VM=1, INT n to the protected-mode handler (the frame with the segment
; registers) at IOPL 3, the IOPL-sensitive instructions at IOPL 0 (#GP(0)),
; INT3 through a DPL 0 gate, BOUND's #BR, ARPL (#UD in v8086 mode), the TSS
; I/O permission bitmap for IN (also at CPL 3 > IOPL in protected mode), and
; with CR4.VME the interrupt redirection bitmap (INT 21h to the task's own
; IVT, FLAGS images with VIF as IF and IOPL 3), CLI/STI/POPF/IRET on VIF, STI
; and POPF with VIP, PUSHFD; CR4.PVI at CPL 3 of protected mode; #AC in v8086.
; Each run enters v8086 mode (or ring 3) with chosen EFLAGS and ends in the
; #UD of a UD2 or the fault under test; the ring-0 handlers record the frame
; and return to the monitor.
%include "rom.inc"
%include "serial.inc"
%include "exit.inc"
%include "pm.inc"
%include "ring.inc"

V_VEC    equ REC + 0x00     ; what the handlers record
V_ERR    equ REC + 0x04
V_IP     equ REC + 0x08     ; frame: EIP, CS, EFLAGS, ESP, SS, ES, DS, FS, GS
V_CS     equ REC + 0x0C
V_FLAGS  equ REC + 0x10
V_SP     equ REC + 0x14
V_SS     equ REC + 0x18
V_ES     equ REC + 0x1C
V_DS     equ REC + 0x20
MARK     equ REC + 0x50     ; written by the v8086 INT 21h handler (DS = 0)

INT_PM   equ 0x2E           ; to the protected-mode handler (DPL 3 gate)
INT_RD   equ 0x21           ; redirected to the v8086 IVT under CR4.VME
MON_ESP  equ REC + 0x40     ; the monitor's ESP while a run is in v8086 mode / ring 3
V86_SP   equ 0x3F00         ; v8086 stack: SS = 0

TSS_LIMIT equ 0x108         ; TSS with the redirection and I/O bitmaps
IOMAP    equ 0x88           ; I/O bitmap offset; the redirection bitmap is 32 bytes below
PORT_OK  equ 0x61           ; the only port the I/O bitmap allows

VM       equ 0x20000
IOPL3    equ 0x3000
VIF      equ 0x80000
VIP      equ 0x100000
ACF      equ 0x40000

; V86 entry, eflags: runs 16-bit code at F000:entry in v8086 mode.
%macro V86 2
    mov ebx, R(%1)
    mov ecx, VM | 2 | (%2)
    call run_v86
%endmacro

; RING3 entry, eflags: runs entry at CPL 3 of protected mode.
%macro RING3 2
    mov ebx, %1
    mov ecx, 2 | (%2)
    call run_ring3
%endmacro

; EXPECT_AT vector, error, ip, description: checks what the handler recorded.
%macro EXPECT_AT 4+
    PUTS %4, `: `
    mov bl, %1
    mov ecx, %2
    mov edx, %3
    call check_run
%endmacro

start:
    REAL_INIT
    call install_unexpected16
    call serial_init16
    SET_IVT INT_RD, v86_int21
    PUTS `vm86: 32-bit protected mode, v8086 tasks\n`
    ENTER_PM32 pm_entry

    bits 32
pm_entry:
    PM32_INIT
    call install_unexpected32
    call install_sys_gdt
    ; The TSS: ring-0 stack, a redirection bitmap sending only INT 21h to
    ; the v8086 IVT, an I/O bitmap allowing only PORT_OK (ports 0-3FFh; the
    ; ones beyond the limit are denied too) and its terminating byte.
    mov dword [SYS_TSS + 4], KSTACK_TOP
    mov dword [SYS_TSS + 8], K_DATA
    mov word [SYS_TSS + 0x66], IOMAP
    mov edi, SYS_TSS + IOMAP - 32
    mov ecx, 32 + 0x80 + 1
    mov al, 0xFF
    rep stosb
    and byte [SYS_TSS + IOMAP - 32 + INT_RD / 8], ~(1 << (INT_RD % 8)) & 0xFF
    and byte [SYS_TSS + IOMAP + PORT_OK / 8], ~(1 << (PORT_OK % 8)) & 0xFF
    mov word [SYS_GDT + SEL_TSS], TSS_LIMIT
    LOAD_TR
    mov eax, 6
    mov edx, h_ud
    call idt32_set
    mov eax, 5
    mov edx, h_br
    call idt32_set
    mov eax, 13
    mov edx, h_gp
    call idt32_set
    mov eax, 17
    mov edx, h_ac
    call idt32_set
    mov eax, INT_PM
    mov edx, h_int
    mov bl, 0xEE                ; interrupt gate, DPL 3
    call idt32_gate

    ; ---- without VME ----
    V86 v86_int_pm, IOPL3
    EXPECT_AT INT_PM, 0, R(v86_int_pm.after), `IOPL 3: INT 2Eh to the protected-mode handler`
    PUTS `  frame SS:SP `
    PUTHEX [V_SS], 4
    PUTC ':'
    PUTHEX [V_SP], 4
    PUTS ` ES `
    PUTHEX [V_ES], 4
    PUTS ` DS `
    PUTHEX [V_DS], 4
    PUTS `, AX `
    PUTHEX [MARK], 4
    PUTC `\n`
    CHECK dword [V_SP], V86_SP, `SP in the frame`
    movzx eax, word [V_DS]
    CHECK eax, 0x40, `DS in the frame`

    V86 v86_sensitive, IOPL3
    EXPECT_AT 6, 0, R(v86_sensitive.end), `IOPL 3: CLI PUSHF POPF run`

    V86 v86_cli, 0
    EXPECT_AT 13, 0, R(v86_cli), `IOPL 0: CLI`
    V86 v86_pushf, 0
    EXPECT_AT 13, 0, R(v86_pushf), `IOPL 0: PUSHF`
    V86 v86_int_pm, 0
    EXPECT_AT 13, 0, R(v86_int_pm.int), `IOPL 0: INT 2Eh`
    V86 v86_iret, 0
    EXPECT_AT 13, 0, R(v86_iret.iret), `IOPL 0: IRET`
    V86 v86_int3, 0
    EXPECT_AT 13, 3 * 8 + 2, R(v86_int3), `IOPL 0: INT3 through a DPL 0 gate`

    V86 v86_in_ok, 0
    EXPECT_AT 6, 0, R(v86_in_ok.end), `I/O bitmap: IN AL, 61h allowed`
    V86 v86_in_denied, 0
    EXPECT_AT 13, 0, R(v86_in_denied), `I/O bitmap: IN AL, 64h denied`
    V86 v86_in_word, 0
    EXPECT_AT 13, 0, R(v86_in_word), `I/O bitmap: IN AX, 61h (62h denied)`
    V86 v86_in_ok, IOPL3
    EXPECT_AT 6, 0, R(v86_in_ok.end), `I/O bitmap at IOPL 3: IN AL, 61h allowed`
    V86 v86_in_denied, IOPL3
    EXPECT_AT 13, 0, R(v86_in_denied), `I/O bitmap at IOPL 3: IN AL, 64h denied`
    ; Protected mode at CPL 3 > IOPL uses the bitmap too; IOPL 3 does not.
    RING3 r3_in_ok, 0
    EXPECT_AT 6, 0, r3_in_ok.end, `CPL 3, IOPL 0: IN AL, 61h allowed`
    RING3 r3_in_denied, 0
    EXPECT_AT 13, 0, r3_in_denied, `CPL 3, IOPL 0: IN AL, 64h denied`
    RING3 r3_in_denied, IOPL3
    EXPECT_AT 6, 0, r3_in_denied.end, `CPL 3, IOPL 3: IN AL, 64h`

    ; BOUND: #BR (a fault) for an index outside the signed pair.
    V86 v86_bound, IOPL3
    EXPECT_AT 5, 0, R(v86_bound.out), `BOUND AX=11 with bounds -5..10`
    ; ARPL: protected mode only (#UD in v8086 mode).
    V86 v86_arpl, IOPL3
    EXPECT_AT 6, 0, R(v86_arpl), `ARPL in v8086 mode`
    mov ax, 0x10
    mov bx, 0x3
    arpl ax, bx
    setz cl
    mov [MARK], ax
    mov [MARK + 2], cl
    arpl ax, bx
    setz cl
    mov [MARK + 3], cl
    PUTS `ARPL 0010h, 0003h: `
    PUTHEX [MARK], 4
    PUTS ` ZF=`
    movzx eax, byte [MARK + 2]
    PUTDEC eax
    PUTS `, again ZF=`
    movzx eax, byte [MARK + 3]
    PUTDEC eax
    PUTC `\n`
    CHECK dword [MARK], 0x00010013, `ARPL result and ZF`

    ; CPUID advertises VME (leaf 1 EDX bit 1): CR4.VME and CR4.PVI are
    ; reserved without it.
    mov eax, 1
    cpuid
    and edx, 2
    PUTS `CPUID.1:EDX.VME=`
    shr edx, 1
    PUTDEC edx
    PUTC `\n`
    CHECK edx, 1, `CPUID.1:EDX.VME`

    ; ---- CR4.VME ----
    mov eax, cr4
    or eax, 1
    mov cr4, eax
    mov dword [MARK], 0
    V86 v86_redirect, VIF
    EXPECT_AT 6, 0, R(v86_redirect.end), `VME, IOPL 0: INT 21h through the v8086 IVT`
    call print_marks
    CHECK dword [MARK], 0x3202, `FLAGS image INT 21h pushed`
    CHECK dword [MARK + 4], 0x3002, `FLAGS PUSHF gave in the handler`
    CHECK dword [V_FLAGS], VM | VIF | 2, `EFLAGS after the handler's IRET`

    mov dword [MARK], 0
    V86 v86_redirect, IOPL3
    EXPECT_AT 6, 0, R(v86_redirect.end), `VME, IOPL 3: INT 21h through the v8086 IVT`
    call print_marks
    CHECK dword [MARK], 0x3002, `FLAGS image INT 21h pushed`

    V86 v86_int_pm, VIF
    EXPECT_AT 13, 0, R(v86_int_pm.int), `VME, IOPL 0: INT 2Eh (not redirected)`
    V86 v86_int_pm, IOPL3
    EXPECT_AT INT_PM, 0, R(v86_int_pm.after), `VME, IOPL 3: INT 2Eh (not redirected)`
    V86 v86_cli, VIF
    EXPECT_AT 6, 0, R(v86_cli.end), `VME: CLI clears VIF`
    CHECK dword [V_FLAGS], VM | 2, `EFLAGS after CLI`
    V86 v86_sti, 0
    EXPECT_AT 6, 0, R(v86_sti.end), `VME: STI sets VIF`
    CHECK dword [V_FLAGS], VM | VIF | 2, `EFLAGS after STI`
    V86 v86_sti, VIP
    EXPECT_AT 13, 0, R(v86_sti), `VME: STI with VIP`
    V86 v86_popf_if, 0
    EXPECT_AT 6, 0, R(v86_popf_if.end), `VME: POPF of IF sets VIF`
    CHECK dword [V_FLAGS], VM | VIF | 2, `EFLAGS after POPF`
    V86 v86_popf_if, VIP
    EXPECT_AT 13, 0, R(v86_popf_if.popf), `VME: POPF of IF with VIP`
    V86 v86_popf_tf, 0
    EXPECT_AT 13, 0, R(v86_popf_tf.popf), `VME: POPF of TF`
    V86 v86_pushfd, VIF
    EXPECT_AT 13, 0, R(v86_pushfd), `VME: PUSHFD`
    V86 v86_iret, VIP
    EXPECT_AT 13, 0, R(v86_iret.iret), `VME: IRET of IF with VIP`
    V86 v86_int3, VIF
    EXPECT_AT 13, 3 * 8 + 2, R(v86_int3), `VME: INT3 through a DPL 0 gate`
    mov eax, cr4
    and eax, ~1
    mov cr4, eax

    ; ---- CR4.PVI at CPL 3 ----
    RING3 r3_cli, VIF
    EXPECT_AT 13, 0, r3_cli, `CPL 3 without PVI: CLI`
    mov eax, cr4
    or eax, 2
    mov cr4, eax
    RING3 r3_cli, VIF
    EXPECT_AT 6, 0, r3_cli.end, `PVI: CLI clears VIF`
    CHECK dword [V_FLAGS], 2, `EFLAGS after CLI`
    RING3 r3_sti, 0
    EXPECT_AT 6, 0, r3_sti.end, `PVI: STI sets VIF`
    CHECK dword [V_FLAGS], VIF | 2, `EFLAGS after STI`
    RING3 r3_sti, VIP
    EXPECT_AT 13, 0, r3_sti, `PVI: STI with VIP`
    mov eax, cr4
    and eax, ~2
    mov cr4, eax

    ; ---- alignment check in v8086 mode (CPL 3) ----
    mov eax, cr0
    or eax, 1 << 18             ; AM
    mov cr0, eax
    V86 v86_misaligned, IOPL3 | ACF
    EXPECT_AT 17, 0, R(v86_misaligned.word), `CR0.AM, EFLAGS.AC: word at 4001h`
    V86 v86_misaligned, IOPL3
    EXPECT_AT 6, 0, R(v86_misaligned.end), `CR0.AM without EFLAGS.AC: word at 4001h`
    mov eax, cr0
    and eax, ~(1 << 18)
    mov cr0, eax

    PASS `vm86`

; EBX entry IP, ECX EFLAGS: IRET to v8086 mode at F000:EBX, SS:SP 0:V86_SP,
; ES = 0, DS = 40h, FS = GS = 0; returns when a handler ends the run.
run_v86:
    mov [MON_ESP], esp
    push dword 0                ; GS
    push dword 0                ; FS
    push dword 0x40             ; DS
    push dword 0                ; ES
    push dword 0                ; SS
    push dword V86_SP
    push ecx
    push dword 0xF000
    push ebx
    iretd

; EBX entry, ECX EFLAGS: IRET to ring 3 (flat segments) at EBX; a handler
; ends the run by loading ESP from [MON_ESP] and returning.
run_ring3:
    mov [MON_ESP], esp
    push dword U_DATA
    push dword USTACK_TOP
    push ecx
    push dword U_CODE32
    push ebx
    iretd

h_ud:
    push 0
    push 6
    jmp h_common
h_br:
    push 0
    push 5
    jmp h_common
h_gp:
    push 13
    jmp h_common
h_ac:
    push 17
    jmp h_common
h_int:
    push 0
    push INT_PM
h_common:                       ; [esp] vector, error, then the frame
    mov ax, K_DATA
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov esi, esp
    mov edi, V_VEC
    mov ecx, 9
    rep movsd
    and dword [V_FLAGS], ~0x10000   ; the RF a fault pushes is not what is tested
    mov esp, [MON_ESP]
    ret

; BL vector, ECX error, EDX IP: prints and checks the record.
check_run:
    PUTS `vector `
    PUTHEX [V_VEC], 2
    PUTS ` error `
    PUTHEX [V_ERR], 4
    PUTS `, EFLAGS `
    PUTHEX [V_FLAGS], 8
    PUTC `\n`
    cmp [V_VEC], bl
    jne .vector
    cmp [V_ERR], ecx
    jne .error
    cmp [V_IP], edx
    jne .ip
    ret
.vector:
    FAIL 0x41, `wrong vector`
.error:
    FAIL 0x42, `wrong error code`
.ip:
    PUTHEX [V_IP], 8
    FAIL 0x43, ` wrong saved instruction pointer`

print_marks:
    PUTS `  FLAGS image pushed `
    PUTHEX [MARK], 4
    PUTS `, PUSHF in the handler `
    PUTHEX [MARK + 4], 4
    PUTC `\n`
    ret

; Ring-3 code (protected mode).
r3_cli:
    cli
.end:
    ud2
r3_sti:
    sti
.end:
    ud2
r3_in_ok:
    in al, PORT_OK
.end:
    ud2
r3_in_denied:
    in al, 0x64
.end:
    ud2

; ---------------------------------------------------------------------------
; v8086 code (CS = F000, DS = 40h: MARK is at DS:2050h).
    bits 16
MARK16 equ MARK - 0x400

v86_int_pm:
    mov ax, 0x1234
    mov [MARK16], ax
.int:
    int INT_PM
.after:
    ud2

v86_sensitive:
    cli
    pushf
    popf
.end:
    ud2

v86_cli:
    cli
.end:
    ud2

v86_pushf:
    pushf
    ud2

v86_iret:
    push word 0x0202            ; FLAGS (IF)
    push cs
    push word R(.end)
.iret:
    iret
.end:
    ud2

v86_int3:
    int3
    ud2

v86_in_ok:
    in al, PORT_OK
.end:
    ud2
v86_in_denied:
    in al, 0x64
    ud2
v86_in_word:
    in ax, PORT_OK
    ud2

v86_redirect:
    int INT_RD
.end:
    ud2

; The v8086 program's INT 21h handler (IVT[21h]): records the FLAGS image
; the INT pushed and what PUSHF gives inside.
v86_int21:
    push bp
    mov bp, sp
    mov ax, [bp + 6]
    mov [MARK16], ax
    mov word [MARK16 + 2], 0
    pushf
    pop ax
    mov [MARK16 + 4], ax
    mov word [MARK16 + 6], 0
    pop bp
    iret

v86_sti:
    sti
.end:
    ud2

v86_popf_if:
    push word 0x0202
.popf:
    popf
.end:
    ud2

v86_popf_tf:
    push word 0x0102
.popf:
    popf
    ud2

v86_pushfd:
    pushfd
    ud2

v86_bound:
    mov word [MARK16], -5
    mov word [MARK16 + 2], 10
    mov ax, 10
    bound ax, [MARK16]
    mov ax, -5
    bound ax, [MARK16]
    mov ax, 11
.out:
    bound ax, [MARK16]
    ud2

v86_arpl:
    arpl ax, bx
    ud2

v86_misaligned:
    xor ax, ax
    mov ds, ax
.word:
    mov ax, [0x4001]
.end:
    ud2

    ROM_END
