; mode_loop: the engine benchmarks' tight integer loop (ALU, a store, a load,
; ALU, a counter and a taken branch: 6 instructions an iteration) run from
; the reset vector in one CPU mode, then ended through the debug-exit port
; with status 0, so tandem and QEMU run the same ROM (bench/loop_table.sh).
; Assemble with -DMODE=n: 0 real mode, 1 32-bit protected mode, 2 the same
; with 4 KiB paging, 3 64-bit mode, 4 32-bit compatibility mode; -DITERS=n.
%include "rom.inc"
%include "serial.inc"
%include "exit.inc"
%include "pm.inc"

%ifndef MODE
%define MODE 1
%endif
%ifndef ITERS
%define ITERS 100000000
%endif
SCRATCH equ 0x5000
PT32_PT equ PT32_PD + 0x1000

start:
    REAL_INIT
%if MODE == 0
    mov si, SCRATCH
    mov bx, 3
    mov edi, ITERS
.loop16:
    add ax, bx
    mov [si], ax
    mov cx, [si + 2]
    xor dx, cx
    dec edi
    jnz .loop16
    EXIT 0
%else
    ENTER_PM32 pm_entry
    bits 32
pm_entry:
    PM32_INIT
%if MODE == 2
    ; identity map the first 4 MiB with 4 KiB pages
    mov edi, PT32_PD
    mov ecx, 2048
    xor eax, eax
    rep stosd
    mov dword [PT32_PD], PT32_PT | 3
    mov edi, PT32_PT
    mov eax, 3
.fill:
    mov [edi], eax
    add eax, 0x1000
    add edi, 4
    cmp edi, PT32_PT + 4096
    jb .fill
    mov eax, PT32_PD
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
%endif
%if MODE == 3 || MODE == 4
    call build_long_tables
    ENTER_LONG lm_entry
    bits 64
lm_entry:
%if MODE == 4
    push SEL_CODE32
    lea rax, [rel loop32]
    push rax
    retfq
%else
    mov esi, SCRATCH
    mov ebx, 3
    mov edi, ITERS
.loop64:
    add eax, ebx
    mov [rsi], eax
    mov ecx, [rsi + 4]
    xor edx, ecx
    dec edi
    jnz .loop64
    EXIT 0
%endif
    bits 32
%endif
loop32:
    mov esi, SCRATCH
    mov ebx, 3
    mov edi, ITERS
.loop32:
    add eax, ebx
    mov [esi], eax
    mov ecx, [esi + 4]
    xor edx, ecx
    dec edi
    jnz .loop32
    EXIT 0
%endif

ROM_END
