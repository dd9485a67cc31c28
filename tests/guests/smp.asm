; smp: a multiprocessor in 32-bit protected mode (Intel SDM vol. 3A 8.4
; MP initialization, 10.6 IPIs, 8.1.2 locked atomic operations). The BSP
; reads the CPU count from fw_cfg, wakes the APs with INIT-SIPI-SIPI (all
; excluding self), and each AP enters protected mode, enables its local APIC
; and reports its APIC ID. Then every CPU races on shared counters with
; LOCK XADD, LOCK CMPXCHG and a spinlock built on XCHG (the totals must be
; exact), and the BSP sends each AP a fixed IPI by physical destination and
; all of them an NMI. Last a TLB shootdown (SDM vol. 3A 4.10.5): every CPU
; turns paging on and caches the translation of one page; the BSP remaps
; it, and an IPI makes the others INVLPG it: each must then read the new
; page, which shows that every CPU has its own TLB. Only the BSP prints, so
; the transcript does not depend on how the host schedules the vCPU
; threads. Run with --smp 4.
%include "rom.inc"
%include "serial.inc"
%include "exit.inc"
%include "pm.inc"
%include "smp.inc"

IPI_VECTOR  equ 0x28
PAGING_VECTOR equ 0x29          ; IPI: turn paging on, read the test page
SHOOT_VECTOR  equ 0x2A          ; IPI: INVLPG the test page, read it again
PD          equ PT32_PD         ; 4 MiB pages (CR4.PSE), identity, plus:
PT_TEST     equ PT32_PD + 0x1000 ; 4 KiB page table for the test window
TEST_LINEAR equ 0x40123000     ; its TLB slot (the interpreter's is direct-mapped) is
                                ; used by nothing else here, so a stale entry survives
PAGE_A      equ 0x200000        ; what the test page maps first ...
PAGE_B      equ 0x201000        ; ... and after the shootdown

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
SEEN_A      equ VARS + 0x400    ; per APIC ID: the test page read before the shootdown
SEEN_B      equ VARS + 0x500    ; ... and after it

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

; Paging on with the BSP's page directory; the read caches the test
; page's translation in this CPU's TLB.
paging_handler:
    push eax
    push ebx
    mov eax, PD
    mov cr3, eax
    mov eax, cr4
    or eax, 0x10                    ; PSE
    mov cr4, eax
    mov eax, cr0
    or eax, 0x80000000              ; PG
    mov cr0, eax
    mov eax, [SMP_APIC_ID]
    shr eax, 24
    mov ebx, [TEST_LINEAR]
    mov [SEEN_A + eax * 4], ebx
    mov dword [SMP_APIC_EOI], 0
    pop ebx
    pop eax
    iretd

shootdown_handler:
    push eax
    push ebx
    invlpg [TEST_LINEAR]
    mov eax, [SMP_APIC_ID]
    shr eax, 24
    mov ebx, [TEST_LINEAR]
    mov [SEEN_B + eax * 4], ebx
    mov dword [SMP_APIC_EOI], 0
    pop ebx
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
    mov eax, PAGING_VECTOR
    mov edx, paging_handler
    call idt32_set
    mov eax, SHOOT_VECTOR
    mov edx, shootdown_handler
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
    ; The TLB shootdown. Page tables: 4 MiB identity pages for the first
    ; 1 GiB and the APIC's 4 MiB, and one 4 KiB window at TEST_LINEAR.
    mov edi, PD
    xor eax, eax
    mov ecx, 2048
    rep stosd
    mov ecx, 256
    mov eax, 0x83                   ; present, writable, 4 MiB
    mov edi, PD
.pde:
    stosd
    add eax, 0x400000
    loop .pde
    mov dword [PD + (SMP_APIC >> 22) * 4], (SMP_APIC & 0xFFC00000) | 0x9B  ; + PCD, PWT
    mov dword [PD + (TEST_LINEAR >> 22) * 4], PT_TEST | 3
    mov dword [PT_TEST + ((TEST_LINEAR >> 12) & 0x3FF) * 4], PAGE_A | 3
    mov dword [PAGE_A], 0xAAAA
    mov dword [PAGE_B], 0xBBBB
    mov dword [SMP_APIC_ICRLO], SMP_ICR_OTHERS | PAGING_VECTOR
    mov eax, PD
    mov cr3, eax
    mov eax, cr4
    or eax, 0x10
    mov cr4, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    mov eax, [TEST_LINEAR]
    mov [SEEN_A], eax
    mov ebx, 1
.paging_wait:
    cmp ebx, [NCPUS]
    jae .remap
    SMP_WAIT_EQ SEEN_A + ebx * 4, 0xAAAA, 7, WAIT_LIMIT
    inc ebx
    jmp .paging_wait
.remap:
    mov dword [PT_TEST + ((TEST_LINEAR >> 12) & 0x3FF) * 4], PAGE_B | 3
    invlpg [TEST_LINEAR]
    mov eax, [TEST_LINEAR]
    mov [SEEN_B], eax
    mov dword [SMP_APIC_ICRLO], SMP_ICR_OTHERS | SHOOT_VECTOR
    mov ebx, 1
.shoot_wait:
    cmp ebx, [NCPUS]
    jae .report_all
    SMP_WAIT_EQ SEEN_B + ebx * 4, 0xBBBB, 8, WAIT_LIMIT
    inc ebx
    jmp .shoot_wait
.report_all:
    xor ebx, ebx
.line:
    PUTS `smp: cpu `
    PUTDEC ebx
    PUTS `: fixed IPIs `
    PUTDEC [IPIS + ebx * 4]
    PUTS `, NMIs `
    PUTDEC [NMIS + ebx * 4]
    PUTS `, test page `
    PUTHEX [SEEN_A + ebx * 4], 4
    PUTS ` then `
    PUTHEX [SEEN_B + ebx * 4], 4
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
