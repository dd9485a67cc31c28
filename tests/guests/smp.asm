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

APIC        equ 0xFEE00000
APIC_ID     equ APIC + 0x20
APIC_EOI    equ APIC + 0xB0
APIC_SVR    equ APIC + 0xF0
APIC_ICRLO  equ APIC + 0x300
APIC_ICRHI  equ APIC + 0x310
ICR_INIT_OTHERS equ (3 << 18) | (1 << 14) | (5 << 8)  ; all excluding self, assert, INIT
ICR_SIPI_OTHERS equ (3 << 18) | (1 << 14) | (6 << 8)  ; ... STARTUP, | vector
ICR_NMI_OTHERS  equ (3 << 18) | (1 << 14) | (4 << 8)  ; ... NMI
IPI_VECTOR  equ 0x28
TRAMPOLINE  equ 0x8000          ; SIPI vector 0x08: the APs start at 0800:0000
AP_STACKS   equ 0x80000         ; AP n's stack ends at AP_STACKS - n * 0x400

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
    ; fw_cfg item 0x05: the CPU count (QEMU's FW_CFG_NB_CPUS, 16 bits).
    mov dx, 0x510
    mov ax, 0x05
    out dx, ax
    inc dx
    in al, dx
    mov bl, al
    in al, dx
    mov bh, al
    mov [NCPUS], bx
    mov dword [NEXT_AP], 1
    ; The trampoline: a far jump into this ROM.
    mov byte [TRAMPOLINE], 0xEA
    mov word [TRAMPOLINE + 1], R(ap_start16)
    mov word [TRAMPOLINE + 3], 0xF000
    ENTER_PM32 pm_entry

; ---------------------------------------------------------------------------
    bits 16
ap_start16:
    cli
    cld
    xor ax, ax
    mov ds, ax
    mov ss, ax
    ENTER_PM32 ap_pm32

    bits 32
ap_pm32:
    mov ax, SEL_DATA32
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    mov eax, 1
    lock xadd [NEXT_AP], eax
    imul eax, eax, 0x400
    mov esp, AP_STACKS
    sub esp, eax
    lidt [idt32_desc]
    mov dword [APIC_SVR], 0x1FF
    mov eax, [APIC_ID]
    shr eax, 24
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
    mov eax, [APIC_ID]
    shr eax, 24
    lock inc dword [IPIS + eax * 4]
    mov dword [APIC_EOI], 0
    pop eax
    iretd

nmi_handler:
    push eax
    mov eax, [APIC_ID]
    shr eax, 24
    lock inc dword [NMIS + eax * 4]
    pop eax
    iretd

; Waits until dword [%1] equals %2 (a register or immediate); fails with
; exit code %3 after WAIT_LIMIT spins.
%macro WAIT_EQ 3
    mov ecx, WAIT_LIMIT
%%again:
    cmp dword [%1], %2
    je %%done
    pause
    dec ecx
    jnz %%again
    PUTS `FAIL: timed out waiting for `, %str(%1), `\n`
    EXIT %3
%%done:
%endmacro

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
    mov dword [APIC_SVR], 0x1FF
    PUTS `smp: `
    PUTDEC [NCPUS]
    PUTS ` CPUs (fw_cfg)\n`
    mov eax, [APIC_ID]
    shr eax, 24
    mov byte [SEEN + eax], 1
    cmp dword [NCPUS], 1
    je .started
    mov dword [APIC_ICRHI], 0
    mov dword [APIC_ICRLO], ICR_INIT_OTHERS
    mov dword [APIC_ICRLO], ICR_SIPI_OTHERS | (TRAMPOLINE >> 12)
    mov dword [APIC_ICRLO], ICR_SIPI_OTHERS | (TRAMPOLINE >> 12)
    mov ebx, [NCPUS]
    dec ebx
    WAIT_EQ UP, ebx, 2
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
    WAIT_EQ DONE, ebx, 4
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
    mov [APIC_ICRHI], eax
    mov dword [APIC_ICRLO], (1 << 14) | IPI_VECTOR
    WAIT_EQ IPIS + ebx * 4, 1, 5
    inc ebx
    jmp .ipi
.nmi:
    mov dword [APIC_ICRLO], ICR_NMI_OTHERS
    mov ebx, 1
.nmi_wait:
    cmp ebx, [NCPUS]
    jae .summary
    WAIT_EQ NMIS + ebx * 4, 1, 6
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
