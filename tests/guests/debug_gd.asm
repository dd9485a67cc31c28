; debug_gd: DR7.GD general detect (SDM vol. 3A 17.2.4): with GD set, a MOV
; from or to a debug register is a #DB fault before it runs, with DR6.BD;
; the processor clears GD on entering the handler, so the MOV then runs.
%include "rom.inc"
%include "serial.inc"
%include "exit.inc"
%include "pm.inc"

DB_N        equ VARS + 0x00     ; #DB count
DB_DR6      equ VARS + 0x08
DB_IP       equ VARS + 0x10     ; saved EIP
DB_DR7      equ VARS + 0x18     ; DR7 as the handler found it

start:
    REAL_INIT
    call install_unexpected16
    call serial_init16
    PUTS `debug_gd: 32-bit protected mode\n`
    ENTER_PM32 pm_entry

    bits 32
; EXPECT_GD ip, description
%macro EXPECT_GD 2+
    PUTS %2, `: #DB x`
    PUTDEC [DB_N]
    PUTS `, DR6 `
    PUTHEX [DB_DR6], 8
    PUTS `, DR7 in the handler `
    PUTHEX [DB_DR7], 8
    PUTC `\n`
    CHECK dword [DB_N], 1, `#DB count`
    CHECK dword [DB_DR6], 0xFFFF2FF0, `DR6 (BD)`
    CHECK dword [DB_DR7], 0x400, `DR7.GD cleared on entering the handler`
    CHECK dword [DB_IP], %1, `saved EIP (a fault)`
%endmacro

pm_entry:
    PM32_INIT
    call install_unexpected32
    mov eax, 1
    mov edx, db32
    call idt32_set

    mov dword [DB_N], 0
    xor eax, eax
    mov dr6, eax
    mov eax, 0x2400
    mov dr7, eax
.gd1:
    mov eax, dr0
    EXPECT_GD .gd1, `MOV from DR0 with DR7.GD`

    mov dword [DB_N], 0
    mov eax, 0x2400
    mov dr7, eax
    mov ecx, 0x401
.gd2:
    mov dr7, ecx                ; runs after the #DB: DR7 = 401h
    mov eax, dr7
    mov ecx, 0x400
    mov dr7, ecx
    CHECK eax, 0x401, `DR7 after the MOV ran again`
    EXPECT_GD .gd2, `MOV to DR7 with DR7.GD`
    PASS `debug_gd`

db32:
    push eax
    inc dword [DB_N]
    mov eax, dr7
    mov [DB_DR7], eax
    mov eax, dr6
    mov [DB_DR6], eax
    mov eax, [esp + 4]
    mov [DB_IP], eax
    xor eax, eax
    mov dr6, eax
    pop eax
    iretd

ROM_END
