; hello: the bundled demo guest. Real mode only: prints a banner on COM1
; through the polling UART routine and exits with status 0 through port F4.
%include "rom.inc"
%include "serial.inc"
%include "exit.inc"
%include "pm.inc"

start:
    REAL_INIT
    call install_unexpected16
    call serial_init16
    PUTS `tandem demo guest: hello from real mode\n`
    PUTS `  started at the reset vector FFFF:FFF0, now running in segment `
    mov ax, cs
    movzx eax, ax
    PUTHEX eax, 4
    PUTC `\n`
    PUTS `  this text comes through COM1, a 16550 UART at port 3F8\n`
    mov eax, 6
    mov ebx, 7
    mul ebx
    PUTS `  real-mode arithmetic: 6 * 7 = `
    PUTDEC eax
    PUTC `\n`
    CHECK eax, 42, `6 * 7`
    PUTS `  bye: writing 0 to the debug-exit port F4 (tandem exits with status 1)\n`
    PASS `hello`

ROM_END
