; i8042_reset: reset through the keyboard controller (command FEh pulses the
; CPU reset line). Run without --no-reboot: the first boot leaves a marker in
; CMOS RAM (which survives a reset) and resets; the second boot finds the
; marker, clears it and passes. Both boots print CR0 as the reset left it.
%include "rom.inc"
%include "serial.inc"
%include "exit.inc"
%include "pm.inc"

MARKER_BYTE equ 0x3F            ; a free CMOS RAM byte
MARKER      equ 0xA5

%macro CMOS_READ 1
    mov al, %1
    out 0x70, al
    in al, 0x71
%endmacro
%macro CMOS_WRITE 2
    mov al, %1
    out 0x70, al
    mov al, %2
    out 0x71, al
%endmacro

start:
    mov ebx, cr0                ; before anything changes it
    REAL_INIT
    call install_unexpected16
    call serial_init16
    CMOS_READ MARKER_BYTE
    cmp al, MARKER
    je second_boot

    PUTS `i8042_reset: first boot, CR0=`
    PUTHEX ebx, 8
    PUTC `\n`
    CHECK ebx, 0x60000010, `CR0 after power-on`
    CMOS_WRITE MARKER_BYTE, MARKER
    PUTS `marker written to CMOS byte 3Fh, resetting through the i8042 (command FEh)\n`
    mov cx, 0xFFFF
.ibf:
    in al, 0x64
    test al, 0x02               ; input buffer full?
    jz .send
    loop .ibf
    FAIL 0x20, `i8042 input buffer stays full`
.send:
    mov al, 0xFE
    out 0x64, al
    ; The reset is immediate on tandem; give slower machines some time.
    mov ecx, 0x1000000
.spin:
    a32 loop .spin
    FAIL 0x21, `still running after the reset command`

second_boot:
    PUTS `i8042_reset: second boot, CR0=`
    PUTHEX ebx, 8
    PUTC `\n`
    CHECK ebx, 0x60000010, `CR0 after the reset`
    CMOS_WRITE MARKER_BYTE, 0
    CMOS_READ MARKER_BYTE
    movzx eax, al
    CHECK eax, 0, `marker cleared`
    PUTS `marker found and cleared: reset ok\n`
    PASS `i8042_reset`

ROM_END
