; compute_loop: a deterministic compute-bound loop in 32-bit protected mode
; (ALU, a load, a store and a taken branch per iteration: 8 instructions),
; checksummed and printed. It checks that both engines compute the same
; result over many iterations, and bench/guest_table.sh times it against
; QEMU's TCG: the one guest here whose run time is the CPU, not start-up.
%include "rom.inc"
%include "serial.inc"
%include "exit.inc"
%include "pm.inc"

ITERATIONS equ 4000000
SCRATCH    equ 0x20000

start:
    REAL_INIT
    call install_unexpected16
    call serial_init16
    PUTS `compute_loop: entering 32-bit protected mode\n`
    ENTER_PM32 pm_entry

    bits 32
pm_entry:
    PM32_INIT
    call install_unexpected32
    mov esi, SCRATCH
    mov dword [esi + 4], 0x9E3779B9
    xor eax, eax
    mov ebx, 0x12345
    xor edx, edx
    mov edi, ITERATIONS
.loop:
    add eax, ebx            ; ALU
    mov [esi], eax          ; store
    mov ecx, [esi + 4]      ; load
    xor edx, ecx
    rol edx, 5
    add ebx, edx
    dec edi
    jnz .loop               ; taken branch
    PUTS `compute_loop: checksum `
    PUTHEX eax, 8
    PUTC ` `
    PUTHEX ebx, 8
    PUTC ` `
    PUTHEX edx, 8
    PUTC `\n`
    PASS `compute_loop`

ROM_END
