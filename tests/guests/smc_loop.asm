; smc_loop: code that rewrites itself all the time, as a decompressor or a
; JIT inside the guest does. In 32-bit protected mode a routine copied to RAM
; has the immediate of its first instruction patched before every call, and
; in 64-bit mode a second copy is patched the same way; each result goes into
; a checksum, so a stale translation anywhere shows. bench/guest_table.sh
; times it on each engine (the cost of dropping and translating code again).
%include "rom.inc"
%include "serial.inc"
%include "exit.inc"
%include "pm.inc"

ITERATIONS equ 20000
ROUTINE    equ 0x30000          ; a page of its own in RAM
IMM        equ ROUTINE + 1      ; the imm32 of "mov eax, imm32"

start:
    REAL_INIT
    call install_unexpected16
    call serial_init16
    PUTS `smc_loop: patching code in 32-bit protected mode\n`
    ENTER_PM32 pm_entry

    bits 32
pm_entry:
    PM32_INIT
    call install_unexpected32
    mov esi, routine
    mov edi, ROUTINE
    mov ecx, routine_end - routine
    rep movsb
    xor ebx, ebx
    mov ebp, ITERATIONS
.loop:
    mov [IMM], ebp              ; rewrite the routine's first instruction
    call ROUTINE
    add ebx, eax
    rol ebx, 3
    dec ebp
    jnz .loop
    PUTS `smc_loop: 32-bit checksum `
    PUTHEX ebx, 8
    PUTC `\n`
    call build_long_tables
    ENTER_LONG lm_entry

    bits 64
lm_entry:
    mov rsp, STACK_TOP
    xor ebx, ebx
    mov ebp, ITERATIONS
.loop64:
    mov [IMM], ebp
    mov eax, ROUTINE
    call rax                    ; the same bytes run as 64-bit code
    add rbx, rax
    rol rbx, 5
    dec ebp
    jnz .loop64
    PUTS `smc_loop: 64-bit checksum `
    PUTHEX rbx, 16
    PUTC `\n`
    PASS `smc_loop`

    bits 32
routine:
    mov eax, 0x11111111         ; patched
    lea eax, [eax + eax * 2]
    xor eax, 0x5A5A5A5A
    ret
routine_end:

ROM_END
