; segment_limits: segment limit and access-rights checks on data accesses
; (SDM vol. 3A 5.3 and 5.7; the "Real-Address Mode Exceptions" of MOV in
; vol. 2): in real mode a word or dword that crosses the 64 KiB limit raises
; #GP (#SS for SS), in protected mode an access past a byte-granular limit,
; a write to a read-only data or a code segment and a use of a null selector
; raise #GP(0). Accesses that end exactly at the limit do not fault.
; Expand-down data segments (5.4.1) allow offsets above the limit, up to
; FFFFh or FFFFFFFFh by their B flag, also as SS (#SS); a POP past the limit
; of SS raises #SS(0); REP STOSB stops at the limit with ECX/EDI of the
; faulting iteration; 16-bit addressing wraps the offset before the check.
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

    ; Expand-down segments in a RAM copy of the GDT: limit FFFh, 16-bit
    ; (B=0, offsets 1000h-FFFFh) and 32-bit (B=1, 1000h-FFFFFFFFh).
    mov esi, gdt
    mov edi, RAM_GDT
    mov ecx, (gdt_end - gdt) / 4
    rep movsd
    mov dword [RAM_GDT + SEL_DOWN16], 0x00000FFF
    mov dword [RAM_GDT + SEL_DOWN16 + 4], 0x00009700
    mov dword [RAM_GDT + SEL_DOWN32], 0x00000FFF
    mov dword [RAM_GDT + SEL_DOWN32 + 4], 0x00409700
    lgdt [ram_gdt_desc]
    mov ax, SEL_DOWN16
    mov es, ax
    mov al, [es:0x1000]
    mov ax, [es:0xFFFE]
    PUTS `16-bit expand-down, limit FFF: byte at 1000 and word at FFFE: no fault\n`
    TRY .r9
.f9: mov al, [es:0x0FFF]
.r9:
    EXPECT 13, 0, .f9, NO_CR2, `16-bit expand-down: byte at FFF`
    TRY .r10
.f10: mov ax, [es:0xFFFF]
.r10:
    EXPECT 13, 0, .f10, NO_CR2, `16-bit expand-down: word at FFFF`
    TRY .r11
.f11: mov al, [es:0x10000]
.r11:
    EXPECT 13, 0, .f11, NO_CR2, `16-bit expand-down: byte at 10000`
    mov ax, SEL_DOWN32
    mov es, ax
    mov al, [es:0x10000]
    mov eax, [es:0x1000]
    PUTS `32-bit expand-down, limit FFF: byte at 10000 and dword at 1000: no fault\n`
    TRY .r12
.f12: mov eax, [es:0x0FFE]
.r12:
    EXPECT 13, 0, .f12, NO_CR2, `32-bit expand-down: dword at FFE`
    ; As SS (ESP stays valid above the limit): #SS for an access below it.
    mov ax, SEL_DOWN32
    mov ss, ax
    push eax
    pop eax
    TRY .r13
.f13: mov eax, [ss:0x0FFC]
.r13:
    EXPECT 12, 0, .f13, NO_CR2, `32-bit expand-down SS: dword at FFC`
    mov ax, SEL_DATA32
    mov ss, ax
    mov es, ax

    ; POP past the limit of a 64 KiB SS.
    mov ax, SEL_DATA32_64K
    mov ss, ax
    mov esp, 0xFFFE
    TRY .r14
.f14: pop eax
.r14:
    mov ax, SEL_DATA32
    mov ss, ax
    mov esp, STACK_TOP
    EXPECT 12, 0, .f14, NO_CR2, `POP at ESP=FFFE with SS limit FFFF`

    ; REP STOSB into a 64 KiB ES from FFFEh: two bytes, then #GP at 10000h.
    mov ax, SEL_DATA32_64K
    mov es, ax
    mov edi, 0xFFFE
    mov ecx, 4
    TRY .r15
.f15: rep stosb
.r15:
    mov [VARS + 0x80], ecx
    mov [VARS + 0x84], edi
    EXPECT 13, 0, .f15, NO_CR2, `REP STOSB across the limit`
    CHECK dword [VARS + 0x80], 2, `ECX at the #GP of REP STOSB`
    CHECK dword [VARS + 0x84], 0x10000, `EDI at the #GP of REP STOSB`
    ; 16-bit addressing: BX + 2 wraps to offset 1, inside the limit.
    mov bx, 0xFFFF
    a16 mov al, [es:bx + 2]
    PUTS `16-bit address FFFF + 2 in a 64 KiB segment: wraps to 0001, no fault\n`
    mov ax, SEL_DATA32
    mov es, ax
    PASS `segment_limits`

RAM_GDT    equ 0x5000
SEL_DOWN16 equ gdt_end - gdt
SEL_DOWN32 equ SEL_DOWN16 + 8
ram_gdt_desc:
    dw SEL_DOWN32 + 7
    dd RAM_GDT

ROM_END
