; smp: a multiprocessor in 32-bit protected mode (Intel SDM vol. 3A 8.4
; MP initialization, 10.6 IPIs, 8.1.2 locked atomic operations). The BSP
; reads the CPU count from fw_cfg, wakes the APs with INIT-SIPI-SIPI (all
; excluding self), and each AP enters protected mode, enables its local APIC
; and reports its APIC ID. Then every CPU races on shared counters with
; LOCK XADD, LOCK CMPXCHG and a spinlock built on XCHG (the totals must be
; exact), and the BSP sends each AP a fixed IPI by physical destination and
; all of them an NMI. Only the BSP prints, so the transcript does not depend
; on how the host schedules the vCPU threads. Run with --smp 4.
%include "rom.inc"
%include "serial.inc"
%include "exit.inc"
%include "pm.inc"
%include "smp.inc"

IPI_VECTOR  equ 0x28

ITER        equ 100000          ; LOCK XADD increments per CPU
CAS_ITER    equ 50000           ; LOCK CMPXCHG increments per CPU
SPIN_ITER   equ 20000           ; spinlock-protected increments per CPU
WAIT_LIMIT  equ 0x10000000      ; spins before a wait counts as failed

NCPUS       equ VARS + 0x00
NEXT_AP     equ VARS + 0x04     ; AP index allocator (LOCK XADD)
UP          equ VARS + 0x08     ; APs that reported
GO          equ VARS + 0x0C     ; the race starts when the BSP sets it
DONE        equ VARS + 0x10     ; CPUs that finished the race
XADD_COUNT  equ VARS + 0x14
CAS_COUNT   equ VARS + 0x18
LOCKWORD    equ VARS + 0x1C
SPIN_COUNT  equ VARS + 0x20
SEEN        equ VARS + 0x100    ; per APIC ID: 1 once that CPU ran
IPIS        equ VARS + 0x200    ; per APIC ID: fixed IPIs taken (dword)
NMIS        equ VARS + 0x300    ; per APIC ID: NMIs taken (dword)

start:
    REAL_INIT
    call install_unexpected16
    call serial_init16
    ; The variables, zeroed.
    mov di, VARS
    mov cx, 0x200
    xor ax, ax
    rep stosw
    SMP_PREPARE16 NCPUS, ap_start16, NEXT_AP
    ENTER_PM32 pm_entry

; ---------------------------------------------------------------------------
    bits 16
ap_start16:
    SMP_AP_ENTRY16 ap_pm32

    bits 32
ap_pm32:
    SMP_AP_INIT32 NEXT_AP
    mov byte [SEEN + eax], 1
    lock inc dword [UP]
.wait_go:
    pause
    cmp dword [GO], 0
    je .wait_go
    call race
    lock inc dword [DONE]
    sti
.idle:
    hlt
    jmp .idle

; Every CPU: the three counters.
race:
    mov ecx, ITER
.xadd:
    mov eax, 1
    lock xadd [XADD_COUNT], eax
    dec ecx
    jnz .xadd
    mov ecx, CAS_ITER
.cas:
    mov eax, [CAS_COUNT]
.cas_retry:
    lea edx, [eax + 1]
    lock cmpxchg [CAS_COUNT], edx
    jnz .cas_retry
    dec ecx
    jnz .cas
    mov ecx, SPIN_ITER
.acquire:
    mov eax, 1
    xchg eax, [LOCKWORD]
    test eax, eax
    jz .locked
.spin:
    pause
    cmp dword [LOCKWORD], 0
    jne .spin
    jmp .acquire
.locked:
    mov eax, [SPIN_COUNT]           ; a plain read-modify-write, under the lock
    inc eax
    mov [SPIN_COUNT], eax
    mov dword [LOCKWORD], 0
    dec ecx
    jnz .acquire
    ret

ipi_handler:
    push eax
    mov eax, [SMP_APIC_ID]
    shr eax, 24
    lock inc dword [IPIS + eax * 4]
    mov dword [SMP_APIC_EOI], 0
    pop eax
    iretd

nmi_handler:
    push eax
    mov eax, [SMP_APIC_ID]
    shr eax, 24
    lock inc dword [NMIS + eax * 4]
    pop eax
    iretd


; ---------------------------------------------------------------------------
pm_entry:
    PM32_INIT
    call install_unexpected32
    mov eax, IPI_VECTOR
    mov edx, ipi_handler
    call idt32_set
    mov eax, 2
    mov edx, nmi_handler
    call idt32_set
    PUTS `smp: `
    PUTDEC [NCPUS]
    PUTS ` CPUs (fw_cfg)\n`
    mov eax, [SMP_APIC_ID]
    shr eax, 24
    mov byte [SEEN + eax], 1
    cmp dword [NCPUS], 1
    je .started
    SMP_START_APS
    mov ebx, [NCPUS]
    dec ebx
    SMP_WAIT_EQ UP, ebx, 2, WAIT_LIMIT
.started:
    xor ebx, ebx
.report:
    PUTS `smp: cpu `
    PUTDEC ebx
    cmp byte [SEEN + ebx], 1
    jne .missing
    PUTS ` up\n`
    inc ebx
    cmp ebx, [NCPUS]
    jb .report
    jmp .race
.missing:
    PUTS ` missing\n`
    EXIT 3

.race:
    mov dword [GO], 1
    call race
    lock inc dword [DONE]
    mov ebx, [NCPUS]
    SMP_WAIT_EQ DONE, ebx, 4, WAIT_LIMIT
    PUTS `smp: lock xadd total `
    PUTDEC [XADD_COUNT]
    PUTS `\nsmp: lock cmpxchg total `
    PUTDEC [CAS_COUNT]
    PUTS `\nsmp: xchg spinlock total `
    PUTDEC [SPIN_COUNT]
    PUTC `\n`
    imul eax, ebx, ITER
    CHECK [XADD_COUNT], eax, `lock xadd total`
    imul eax, ebx, CAS_ITER
    CHECK [CAS_COUNT], eax, `lock cmpxchg total`
    imul eax, ebx, SPIN_ITER
    CHECK [SPIN_COUNT], eax, `xchg spinlock total`

    ; A fixed IPI to each AP by physical APIC ID, then an NMI to all of them.
    mov ebx, 1
.ipi:
    cmp ebx, [NCPUS]
    jae .nmi
    mov eax, ebx
    shl eax, 24
    mov [SMP_APIC_ICRHI], eax
    mov dword [SMP_APIC_ICRLO], (1 << 14) | IPI_VECTOR
    SMP_WAIT_EQ IPIS + ebx * 4, 1, 5, WAIT_LIMIT
    inc ebx
    jmp .ipi
.nmi:
    mov dword [SMP_APIC_ICRLO], SMP_ICR_OTHERS | (4 << 8)
    mov ebx, 1
.nmi_wait:
    cmp ebx, [NCPUS]
    jae .summary
    SMP_WAIT_EQ NMIS + ebx * 4, 1, 6, WAIT_LIMIT
    inc ebx
    jmp .nmi_wait
.summary:
    xor ebx, ebx
.line:
    PUTS `smp: cpu `
    PUTDEC ebx
    PUTS `: fixed IPIs `
    PUTDEC [IPIS + ebx * 4]
    PUTS `, NMIs `
    PUTDEC [NMIS + ebx * 4]
    PUTC `\n`
    inc ebx
    cmp ebx, [NCPUS]
    jb .line
    ; Nothing timing-dependent stays in the registers the engines compare.
    xor eax, eax
    xor ebx, ebx
    xor ecx, ecx
    xor edx, edx
    PASS `smp`

    ROM_END
