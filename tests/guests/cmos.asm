; cmos: the MC146818 RTC/CMOS at ports 70h/71h. Prints the memory-size
; bytes as a PC BIOS expects them for -m 128M (QEMU's layout: 15h/16h base
; KiB, 17h/18h and 30h/31h KiB above 1 MiB capped at 65535, 34h/35h 64 KiB
; blocks above 16 MiB, 5Bh-5Dh above 4 GiB), the status registers, checks
; that the clock fields hold valid values for the data mode register B
; selects (BCD or binary, 12/24 h) without printing them, and writes and
; reads back a free CMOS RAM byte, also with the NMI-disable bit in the index.
%include "rom.inc"
%include "serial.inc"
%include "exit.inc"
%include "pm.inc"

SCRATCH_BYTE equ 0x3E

; CMOS_READ index -> AL
%macro CMOS_READ 1
    mov al, %1
    out 0x70, al
    in al, 0x71
%endmacro
; CMOS_WRITE index, value (AL is clobbered)
%macro CMOS_WRITE 2
    mov al, %1
    out 0x70, al
    mov al, %2
    out 0x71, al
%endmacro
; CMOS_WORD low_index -> EAX = byte[low] | byte[low+1] << 8
%macro CMOS_WORD 1
    CMOS_READ (%1) + 1
    movzx eax, al
    shl eax, 8
    push eax
    CMOS_READ %1
    movzx ebx, al
    pop eax
    or eax, ebx
%endmacro

REG_B equ VARS + 0              ; byte: status register B

start:
    REAL_INIT
    call install_unexpected16
    call serial_init16
    PUTS `cmos: memory size bytes for 128 MiB\n`

    CMOS_WORD 0x15
    PUTS `  15h/16h base memory: `
    PUTDEC eax
    PUTS ` KiB\n`
    CHECK eax, 640, `base memory`
    CMOS_WORD 0x17
    PUTS `  17h/18h extended memory: `
    PUTDEC eax
    PUTS ` KiB\n`
    CHECK eax, 65535, `17h/18h extended memory`
    CMOS_WORD 0x30
    PUTS `  30h/31h extended memory: `
    PUTDEC eax
    PUTS ` KiB\n`
    CHECK eax, 65535, `30h/31h extended memory`
    CMOS_WORD 0x34
    PUTS `  34h/35h memory above 16 MiB: `
    PUTDEC eax
    PUTS ` x 64 KiB\n`
    CHECK eax, (128 - 16) * 16, `34h/35h memory above 16 MiB`
    CMOS_WORD 0x5B
    mov ecx, eax
    CMOS_READ 0x5D
    movzx eax, al
    shl eax, 16
    or eax, ecx
    PUTS `  5Bh-5Dh memory above 4 GiB: `
    PUTDEC eax
    PUTS ` x 64 KiB\n`
    CHECK eax, 0, `5Bh-5Dh memory above 4 GiB`

    CMOS_READ 0x0A
    and al, 0x7F                ; UIP changes with time
    movzx eax, al
    PUTS `status A (without UIP): `
    PUTHEX eax, 2
    CMOS_READ 0x0B
    mov [REG_B], al
    movzx eax, al
    PUTS `, B: `
    PUTHEX eax, 2
    CMOS_READ 0x0D
    movzx eax, al
    PUTS `, D: `
    PUTHEX eax, 2
    PUTC `\n`
    CHECK eax, 0x80, `status D: valid RAM and time`

    ; Clock fields: wait until no update is in progress, then read them.
    mov cx, 0xFFFF
.uip:
    CMOS_READ 0x0A
    test al, 0x80
    jz .read_clock
    loop .uip
    FAIL 0x50, `update in progress for too long`
.read_clock:
    ; index, min, max (binary)
    mov si, R(clock_fields)
.field:
    mov al, [cs:si]
    cmp al, 0xFF
    je .fields_ok
    mov bl, [cs:si + 1]
    mov bh, [cs:si + 2]
    call check_field
    add si, 3
    jmp .field
.fields_ok:
    PUTS `clock fields (seconds to year, weekday, century) hold valid `
    test byte [REG_B], 0x04
    jnz .binary
    PUTS `BCD`
    jmp .mode_done
.binary:
    PUTS `binary`
.mode_done:
    PUTS ` values\n`

    ; CMOS RAM: write, read back, and the same through an index with bit 7
    ; (NMI disable) set, which selects the same byte.
    CMOS_WRITE SCRATCH_BYTE, 0xA5
    CMOS_READ SCRATCH_BYTE
    movzx eax, al
    PUTS `CMOS RAM byte 3Eh: wrote A5, read `
    PUTHEX eax, 2
    CHECK eax, 0xA5, `CMOS RAM write/read A5`
    CMOS_WRITE SCRATCH_BYTE | 0x80, 0x5A
    CMOS_READ SCRATCH_BYTE
    movzx eax, al
    PUTS `; wrote 5A through index BEh, read `
    PUTHEX eax, 2
    PUTC `\n`
    CHECK eax, 0x5A, `CMOS RAM write with the NMI-disable bit`
    CMOS_WRITE SCRATCH_BYTE, 0
    PASS `cmos`

; AL register index, BL minimum, BH maximum: the field read in the mode of
; register B is in range (the hour's PM bit allowed in 12-hour mode).
check_field:
    push cx
    mov cl, al
    out 0x70, al
    in al, 0x71
    mov ch, al                  ; raw value, for the message
    cmp cl, 0x04
    jne .no_pm
    test byte [REG_B], 0x02     ; 24-hour mode?
    jnz .no_pm
    and al, 0x7F                ; 12-hour mode: bit 7 is PM
.no_pm:
    test byte [REG_B], 0x04     ; binary mode?
    jnz .range
    ; BCD: both digits 0-9, then convert.
    mov ah, al
    and ah, 0x0F
    cmp ah, 9
    ja .bad
    mov ah, al
    shr ah, 4
    cmp ah, 9
    ja .bad
    push bx
    mov bl, al
    and bl, 0x0F
    shr al, 4
    mov bh, 10
    mul bh
    add al, bl
    pop bx
.range:
    cmp al, bl
    jb .bad
    cmp al, bh
    ja .bad
    pop cx
    ret
.bad:
    PUTS `FAIL: clock register `
    movzx eax, cl
    PUTHEX eax, 2
    PUTS ` holds `
    movzx eax, ch
    PUTHEX eax, 2
    PUTC `\n`
    EXIT 0x51

clock_fields:                   ; index, min, max
    db 0x00, 0, 59              ; seconds
    db 0x02, 0, 59              ; minutes
    db 0x04, 0, 23              ; hours (12-hour mode: 1-12 after the PM bit)
    db 0x06, 1, 7               ; day of week
    db 0x07, 1, 31              ; day of month
    db 0x08, 1, 12              ; month
    db 0x09, 0, 99              ; year
    db 0x32, 19, 21             ; century
    db 0xFF

ROM_END
