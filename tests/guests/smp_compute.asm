; smp_compute: independent work on every CPU (a benchmark of how vCPUs
; scale, and a check that each CPU computes its own result). The BSP starts
; the APs with INIT-SIPI-SIPI; each CPU runs ITER rounds of xorshift32
; (Marsaglia 2003: x ^= x << 13; x ^= x >> 17; x ^= x << 5) from the seed
; APIC ID + 1 and stores the result by APIC ID; the BSP prints them all.
; ITER can be given at assembly time (bench/smp_scaling.sh builds a long
; variant); the test's default keeps the interpreter quick.
%include "rom.inc"
%include "serial.inc"
%include "exit.inc"
%include "pm.inc"
%include "smp.inc"

%ifndef ITER
%define ITER 2000000
%endif
WAIT_LIMIT  equ 0x7FFFFFFF

NCPUS       equ VARS + 0x00
NEXT_AP     equ VARS + 0x04
DONE        equ VARS + 0x08
RESULTS     equ VARS + 0x100    ; per APIC ID, dword

start:
    REAL_INIT
    call install_unexpected16
    call serial_init16
    mov di, VARS
    mov cx, 0x100
    xor ax, ax
    rep stosw
    SMP_PREPARE16 NCPUS, ap_start16, NEXT_AP
    ENTER_PM32 pm_entry

    bits 16
ap_start16:
    SMP_AP_ENTRY16 ap_pm32

    bits 32
ap_pm32:
    SMP_AP_INIT32 NEXT_AP
    call work
.idle:
    cli
    hlt
    jmp .idle

; EAX = APIC ID: RESULTS[ID] = xorshift32^ITER(ID + 1), then DONE += 1.
work:
    mov ebx, eax
    lea eax, [eax + 1]
    mov ecx, ITER
.round:
    mov edx, eax
    shl edx, 13
    xor eax, edx
    mov edx, eax
    shr edx, 17
    xor eax, edx
    mov edx, eax
    shl edx, 5
    xor eax, edx
    dec ecx
    jnz .round
    mov [RESULTS + ebx * 4], eax
    lock inc dword [DONE]
    ret

pm_entry:
    PM32_INIT
    call install_unexpected32
    PUTS `smp_compute: `
    PUTDEC [NCPUS]
    PUTS ` CPUs, `
    PUTDEC ITER
    PUTS ` xorshift32 rounds each\n`
    cmp dword [NCPUS], 1
    je .own
    SMP_START_APS
.own:
    mov eax, [SMP_APIC_ID]
    shr eax, 24
    call work
    mov ebx, [NCPUS]
    SMP_WAIT_EQ DONE, ebx, 2, WAIT_LIMIT
    xor ebx, ebx
.line:
    PUTS `smp_compute: cpu `
    PUTDEC ebx
    PUTS ` result `
    PUTHEX [RESULTS + ebx * 4], 8
    PUTC `\n`
    inc ebx
    cmp ebx, [NCPUS]
    jb .line
    xor eax, eax
    xor ebx, ebx
    xor ecx, ecx
    xor edx, edx
    PASS `smp_compute`

    ROM_END
