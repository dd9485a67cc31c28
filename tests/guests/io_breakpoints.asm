; io_breakpoints: I/O breakpoints (SDM vol. 3A 17.2.4-17.2.5: DR7 R/W = 10
; with CR4.DE) on IN and OUT of 1 and 2 bytes and their LEN ranges, traps
; after each iteration of REP INSB that touches the port, and the RF flag in
; the EFLAGS image of traps between iterations of a REP string instruction
; (17.3.1.1), also for single-stepping REP STOSB (17.3.1.4); ICEBP (F1), whose
; #DB leaves DR6 alone. 32-bit protected mode, flat segments.
; The #DB handler logs EIP, EFLAGS, ECX and DR6 of each trap and clears DR6.
%include "rom.inc"
%include "serial.inc"
%include "exit.inc"
%include "pm.inc"

DB_N        equ VARS + 0x00     ; #DB count
DB_LOG      equ VARS + 0x100    ; per #DB: EIP, EFLAGS, ECX, DR6 (16 bytes)
BUF         equ VARS + 0x300

DR6_CLEAR   equ 0xFFFF0FF0
DR7_CLEAR   equ 0x400
RF          equ 0x10000
RW_IO       equ 10b

; ARM: no #DB seen yet, DR6 clear.
%macro ARM 0
    mov dword [DB_N], 0
    xor eax, eax
    mov dr6, eax
%endmacro

; EXPECT_N count, description: disarms DR7 and checks the #DB count.
%macro EXPECT_N 2+
    mov eax, DR7_CLEAR
    mov dr7, eax
    PUTS %2, `: #DB x`
    PUTDEC [DB_N]
    PUTC `\n`
    CHECK dword [DB_N], %1, `#DB count`
%endmacro

; ENTRY i, eip, eflags_rf, ecx, dr6: prints and checks log entry i.
%macro ENTRY 5
    mov ebx, DB_LOG + (%1) * 16
    PUTS `  #DB `, %1 + '0', `: EIP `
    mov eax, [ebx]
    sub eax, ROM_BASE
    PUTHEX eax, 4
    PUTS ` RF=`
    mov eax, [ebx + 4]
    shr eax, 16
    and eax, 1
    PUTDEC eax
    PUTS ` ECX=`
    PUTDEC [ebx + 8]
    PUTS ` DR6 `
    PUTHEX [ebx + 12], 8
    PUTC `\n`
    CHECK dword [ebx], %2, `saved EIP`
    mov eax, [ebx + 4]
    and eax, RF
    CHECK eax, %3, `RF in the image`
    CHECK dword [ebx + 8], %4, `ECX`
    CHECK dword [ebx + 12], %5, `DR6`
%endmacro

start:
    REAL_INIT
    call install_unexpected16
    call serial_init16
    PUTS `io_breakpoints: 32-bit protected mode\n`
    ENTER_PM32 pm_entry

    bits 32
pm_entry:
    PM32_INIT
    call install_unexpected32
    mov eax, 1
    mov edx, db32
    call idt32_set
    mov eax, cr4
    or eax, 8                   ; DE
    mov cr4, eax

    ; Single-stepping REP STOSB, 3 times: a trap after every iteration, the
    ; first two with EIP on the REP and RF set in the image, then one after
    ; each instruction up to the POPFD clearing TF.
    ARM
    mov edi, BUF
    mov ecx, 3
    pushfd
    or dword [esp], 0x100
    popfd                       ; sets TF: no trap
.rep2:
    rep stosb
.rep2_after:
    pushfd
    and dword [esp], ~0x100
    popfd
    EXPECT_N 6, `single-step REP STOSB, ECX=3`
    ENTRY 0, .rep2, RF, 2, DR6_CLEAR | 0x4000
    ENTRY 1, .rep2, RF, 1, DR6_CLEAR | 0x4000
    ENTRY 2, .rep2_after, 0, 0, DR6_CLEAR | 0x4000

    ; ICEBP: a #DB trap after it; DR6 keeps what it had.
    ARM
    xor ecx, ecx
    int1
.icebp_after:
    EXPECT_N 1, `ICEBP`
    ENTRY 0, .icebp_after, 0, 0, DR6_CLEAR

    ; DR0: port 61h, 1 byte. IN from 60h misses; from 61h traps after the IN.
    ARM
    mov eax, 0x61
    mov dr0, eax
    mov eax, DR7_CLEAR | 0x1 | (RW_IO << 16)
    mov dr7, eax
    in al, 0x60
.in1:
    in al, 0x61
.in1_after:
    EXPECT_N 1, `IN AL, 61h with an I/O breakpoint on port 61h`
    ENTRY 0, .in1_after, 0, 0, DR6_CLEAR | 0x1
    ; A word IN from 60h covers 61h.
    ARM
    mov eax, DR7_CLEAR | 0x1 | (RW_IO << 16)
    mov dr7, eax
    xor ecx, ecx
    in ax, 0x60
.in2_after:
    EXPECT_N 1, `IN AX, 60h (ports 60h-61h)`
    ENTRY 0, .in2_after, 0, 0, DR6_CLEAR | 0x1

    ; DR2: ports 80h-81h (LEN 01, 2 bytes), global enable. OUT to 82h
    ; misses, OUT DX to 81h hits.
    ARM
    mov eax, 0x80
    mov dr2, eax
    mov eax, DR7_CLEAR | 0x20 | (RW_IO << 24) | (01b << 26)
    mov dr7, eax
    mov al, 0
    out 0x82, al
    mov dx, 0x81
    out dx, al
.out1_after:
    EXPECT_N 1, `OUT DX=81h with an I/O breakpoint on ports 80h-81h`
    ENTRY 0, .out1_after, 0, 0, DR6_CLEAR | 0x4

    ; REP INSB from port 61h, 3 times: as single-stepping, a trap after
    ; every iteration, the first two with EIP on the REP and RF set.
    ARM
    mov eax, DR7_CLEAR | 0x1 | (RW_IO << 16)
    mov dr7, eax
    mov edi, BUF
    mov ecx, 3
    mov dx, 0x61
.rep1:
    rep insb
.rep1_after:
    EXPECT_N 3, `REP INSB from port 61h, ECX=3`
    ENTRY 0, .rep1, RF, 2, DR6_CLEAR | 0x1
    ENTRY 1, .rep1, RF, 1, DR6_CLEAR | 0x1
    ENTRY 2, .rep1_after, 0, 0, DR6_CLEAR | 0x1

    PASS `io_breakpoints`

db32:
    push eax
    push ebx
    mov ebx, [DB_N]
    shl ebx, 4
    add ebx, DB_LOG
    mov eax, [esp + 8]
    mov [ebx], eax
    mov eax, [esp + 16]
    mov [ebx + 4], eax
    mov [ebx + 8], ecx
    mov eax, dr6
    mov [ebx + 12], eax
    inc dword [DB_N]
    xor eax, eax
    mov dr6, eax
    pop ebx
    pop eax
    iretd

    ROM_END
