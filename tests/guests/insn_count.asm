; insn_count: single-steps one fixed block of code (RFLAGS.TF with a #DB
; handler that counts its traps, SDM vol. 3A 17.3.1.4) in real mode, 16-bit
; protected mode, 32-bit protected mode with paging off and on, 32-bit
; compatibility mode and 64-bit mode, and prints each count next to the
; figure derived by hand in TRACED_BLOCK's comments.
%include "rom.inc"
%include "serial.inc"
%include "exit.inc"
%include "pm.inc"

DBCOUNT     equ VARS + 0x00     ; single-step traps seen
INTCOUNT    equ VARS + 0x04     ; INT SOFT_VECTOR handler runs
SRC         equ VARS + 0x100    ; REP MOVSB source
DST         equ VARS + 0x200    ; REP MOVSB destination
SOFT_VECTOR equ 0x20            ; INT n target (IF stays 0, so no IRQ uses it)
SEL_CODE16  equ 0x30            ; 16-bit code, base F0000 (gdt16 below)
EXPECTED    equ 37

; The block, assembled for the current mode. Traps per line are in the
; comments; the instruction that sets TF does not trap (TF was clear when it
; began), the one that clears it does (TF was set when it began).
%macro TRACED_BLOCK 0
%if __BITS__ == 16
  %define xAX ax
  %define xCX cx
  %define xDX dx
  %define xSI si
  %define xDI di
%elif __BITS__ == 32
  %define xAX eax
  %define xCX ecx
  %define xDX edx
  %define xSI esi
  %define xDI edi
%else
  %define xAX rax
  %define xCX rcx
  %define xDX rdx
  %define xSI rsi
  %define xDI rdi
%endif
    mov dword [DBCOUNT], 0
    mov dword [INTCOUNT], 0
    pushf
    pop xAX
    or ax, 0x100
    push xAX
    popf                        ;  0: sets TF
    mov xCX, 3                  ;  1                                  (1)
%%loop:
    call %%sub                  ; 12: 3 x (CALL, INC, RET, LOOP)      (13)
    loop %%loop
    mov xCX, 4                  ;  1                                  (14)
    mov xSI, SRC                ;  1                                  (15)
    mov xDI, DST                ;  1                                  (16)
    rep movsb                   ;  4: one trap per iteration          (20)
    xor xCX, xCX                ;  1: ZF = 1, count 0                 (21)
    rep stosb                   ;  1: no iteration, still one trap    (22)
    jz %%taken                  ;  1: taken                           (23)
    nop                         ;  0: jumped over
%%taken:
    jnz %%not_taken             ;  1: not taken                       (24)
%%not_taken:
    mov ax, ss                  ;  1                                  (25)
    mov ss, ax                  ;  1 for both: MOV SS holds the trap  (26)
    nop                         ;    over the next instruction (6.8.3)
    int SOFT_VECTOR             ;  0: INT n clears TF, the handler and its
                                ;     IRET (which began with TF = 0) do not trap
    pushf                       ;  1                                  (27)
    pop xAX                     ;  1                                  (28)
    and ax, ~0x100              ;  1                                  (29)
    push xAX                    ;  1                                  (30)
    popf                        ;  1: clears TF, began with it set    (31)
    nop                         ;  0: not traced
    pushf                       ;  0
    pop xAX                     ;  0
    or ax, 0x100                ;  0
    push xAX                    ;  0
    popf                        ;  0: sets TF again
    nop                         ;  1                                  (32)
    pushf                       ;  1                                  (33)
    pop xAX                     ;  1                                  (34)
    and ax, ~0x100              ;  1                                  (35)
    push xAX                    ;  1                                  (36)
    popf                        ;  1: clears TF                       (37)
    jmp %%done
%%sub:
    inc xDX
    ret
%%done:
%endmacro

; REPORT name: prints the count against EXPECTED and checks it and the
; INT handler's run.
%macro REPORT 1
    PUTS %1, `: `
    mov eax, [DBCOUNT]
%if __BITS__ == 64
    PUTDEC rax
%else
    PUTDEC eax
%endif
    PUTS ` traps, expected `
    PUTDEC EXPECTED
    PUTC `\n`
%if __BITS__ == 64
    mov eax, [DBCOUNT]
    CHECK rax, EXPECTED, %1, ` trap count`
    mov eax, [INTCOUNT]
    CHECK rax, 1, %1, ` INT handler runs`
%else
    mov eax, [DBCOUNT]
    CHECK eax, EXPECTED, %1, ` trap count`
    mov eax, [INTCOUNT]
    CHECK eax, 1, %1, ` INT handler runs`
%endif
%endmacro

; A flat GDT as pm.inc's plus a 16-bit code segment over this ROM, so 16-bit
; protected-mode code runs with the offsets real-mode code uses.
    align 8
gdt16:
    dq 0
    dq 0x00CF9B000000FFFF       ; 0x08 code, 32-bit, flat
    dq 0x00CF93000000FFFF       ; 0x10 data, flat
    dq 0x00AF9B000000FFFF       ; 0x18 code, 64-bit
    dq 0x00CF91000000FFFF       ; 0x20 data, read-only
    dq 0x004093000000FFFF       ; 0x28 data, 64 KiB
    dq 0x00009B0F0000FFFF       ; 0x30 code, 16-bit, base F0000, 64 KiB
gdt16_end:
gdt16_desc:
    dw gdt16_end - gdt16 - 1
    dd gdt16

start:
    REAL_INIT
    call install_unexpected16
    call serial_init16
    SET_IVT 1, db16
    SET_IVT SOFT_VECTOR, int16
    PUTS `insn_count: single-step traps over one block, per mode\n`
    TRACED_BLOCK
    REPORT `real mode`
    ENTER_PM32 pm_entry

db16:
    inc dword [DBCOUNT]
    iret
int16:
    inc dword [INTCOUNT]
    iret

; ---------------------------------------------------------------------------
    bits 32
pm_entry:
    PM32_INIT
    lgdt [gdt16_desc]
    call install_unexpected32
    mov eax, 1
    mov edx, db32
    call idt32_set
    mov eax, SOFT_VECTOR
    mov edx, int32
    call idt32_set

    TRACED_BLOCK
    REPORT `32-bit protected mode, paging off`

    jmp SEL_CODE16:R(pm16_entry)
pm16_back:
    REPORT `16-bit protected mode`

    ; 32-bit paging: one 4 MiB page (CR4.PSE) identity-maps 0-4 MiB.
    mov edi, PT32_PD
    mov ecx, 1024
    xor eax, eax
    rep stosd
    mov dword [PT32_PD], 0x83   ; P, RW, PS
    mov eax, cr4
    or eax, 0x10                ; PSE
    mov cr4, eax
    mov eax, PT32_PD
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    TRACED_BLOCK
    REPORT `32-bit protected mode, paging on`
    mov eax, cr0
    and eax, 0x7FFFFFFF
    mov cr0, eax

    call build_long_tables
    ENTER_LONG lm_entry

db32:
    inc dword [DBCOUNT]
    iretd
int32:
    inc dword [INTCOUNT]
    iretd

; ---------------------------------------------------------------------------
    bits 16
pm16_entry:                     ; CS = SEL_CODE16, data and stack still flat 32-bit
    TRACED_BLOCK
    jmp dword SEL_CODE32:pm16_back

; ---------------------------------------------------------------------------
    bits 64
lm_entry:
    mov rsp, STACK_TOP
    call install_unexpected64
    mov eax, 1
    mov edx, db64
    call idt64_set
    mov eax, SOFT_VECTOR
    mov edx, int64
    call idt64_set

    TRACED_BLOCK
    REPORT `64-bit mode`

    push SEL_CODE32             ; into compatibility mode: a 32-bit CS with EFER.LMA
    push compat_entry
    retfq
compat_back:
    mov rsp, STACK_TOP
    REPORT `32-bit compatibility mode`
    PASS `insn_count`

db64:
    inc dword [DBCOUNT]
    iretq
int64:
    inc dword [INTCOUNT]
    iretq

    bits 32
compat_entry:
    TRACED_BLOCK
    jmp SEL_CODE64:compat_back

ROM_END
