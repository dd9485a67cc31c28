; segment_limits: segment limit and access-rights checks on data accesses
; (SDM vol. 3A 5.3 and 5.7; the "Real-Address Mode Exceptions" of MOV in
; vol. 2): in real mode a word or dword that crosses the 64 KiB limit raises
; #GP (#SS for SS), in protected mode an access past a byte-granular limit,
; a write to a read-only data or a code segment and a use of a null selector
; raise #GP(0). Accesses that end exactly at the limit do not fault.
%include "rom.inc"
%include "serial.inc"
%include "exit.inc"
%include "pm.inc"
%include "trap.inc"

start:
    REAL_INIT
    call install_unexpected16
    call install_traps16
    call serial_init16
    PUTS `segment_limits: real mode (64 KiB limits)\n`

    mov al, [0xFFFF]            ; the last byte: fine
    mov ax, [0xFFFE]            ; the last word: fine
    PUTS `byte at DS:FFFF and word at DS:FFFE: no fault\n`
    TRY .r1
.f1: mov ax, [0xFFFF]
.r1:
    EXPECT 13, 0, .f1, 0, `real mode word at DS:FFFF`
    TRY .r2
.f2: mov eax, [es:0xFFFE]
.r2:
    EXPECT 13, 0, .f2, 0, `real mode dword at ES:FFFE`
    mov bp, 0xFFFF
    TRY .r3
.f3: mov ax, [bp]               ; SS-relative
.r3:
    EXPECT 12, 0, .f3, 0, `real mode word at SS:FFFF (#SS)`

    ENTER_PM32 pm_entry

    bits 32
pm_entry:
    PM32_INIT
    call install_unexpected32
    call install_traps32
    PUTS `segment_limits: 32-bit protected mode\n`

    mov ax, SEL_DATA32_64K
    mov es, ax
    mov al, [es:0xFFFF]
    mov eax, [es:0xFFFC]
    PUTS `64 KiB segment: byte at FFFF and dword at FFFC: no fault\n`
    TRY .r4
.f4: mov eax, [es:0xFFFE]
.r4:
    EXPECT 13, 0, .f4, NO_CR2, `dword at FFFE in a 64 KiB segment`
    TRY .r5
.f5: mov al, [es:0x10000]
.r5:
    EXPECT 13, 0, .f5, NO_CR2, `byte at 10000 in a 64 KiB segment`

    mov ax, SEL_DATA32_RO
    mov es, ax
    mov al, [es:0x5000]         ; reading is fine
    TRY .r6
.f6: mov byte [es:0x5000], 1
.r6:
    EXPECT 13, 0, .f6, NO_CR2, `write through a read-only data segment`
    TRY .r7
.f7: mov [cs:0x5000], eax
.r7:
    EXPECT 13, 0, .f7, NO_CR2, `write through the code segment`
    xor ax, ax
    mov es, ax                  ; loading a null selector is fine...
    TRY .r8
.f8: mov eax, [es:0x5000]       ; ...using it is not
.r8:
    EXPECT 13, 0, .f8, NO_CR2, `read through a null ES`
    mov ax, SEL_DATA32
    mov es, ax
    PASS `segment_limits`

ROM_END
