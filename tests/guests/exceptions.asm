; exceptions: faults and traps in real mode, 32-bit protected mode and
; 64-bit long mode (SDM vol. 3A ch. 6): #DE, #BP, #UD, #GP (bad selector,
; non-canonical address) and #PF (not
; present, write, read-only with CR0.WP, instruction fetch, higher half) with
; the error code, the saved instruction pointer (fault: the faulting
; instruction; trap: the next one) and CR2 checked. Handlers record the
; exception and resume at the address the test set (as kvm-unit-tests'
; ASM_TRY does). Segment limit and rights checks are in segment_limits.asm.
%include "rom.inc"
%include "serial.inc"
%include "exit.inc"
%include "pm.inc"
%include "trap.inc"

PT0 equ PT32_PD + 0x1000

start:
    REAL_INIT
    call install_unexpected16
    call serial_init16
    PUTS `exceptions: real mode\n`
    call install_traps16

    mov ax, 1
    xor dx, dx
    xor cx, cx
    TRY .r1
.f1: div cx
.r1:
    EXPECT 0, 0, .f1, 0, `real mode #DE (div by zero)`

    TRY .r2
    int3
.r2:
    EXPECT 3, 0, .r2, 0, `real mode #BP (int3, a trap: IP of the next instruction)`

    TRY .r3
.f3: ud2
.r3:
    EXPECT 6, 0, .f3, 0, `real mode #UD (ud2)`

    ENTER_PM32 pm_entry

; ---------------------------------------------------------------------------
    bits 32
pm_entry:
    PM32_INIT
    call install_unexpected32
    call install_traps32
    PUTS `exceptions: 32-bit protected mode\n`

    mov eax, 1
    xor edx, edx
    xor ecx, ecx
    TRY .r1
.f1: div ecx
.r1:
    EXPECT 0, 0, .f1, NO_CR2, `32-bit #DE (div by zero)`

    mov eax, 0x80000000
    cdq
    mov ecx, -1
    TRY .r2
.f2: idiv ecx
.r2:
    EXPECT 0, 0, .f2, NO_CR2, `32-bit #DE (idiv overflow 80000000h / -1)`

    TRY .r3
    int3
.r3:
    EXPECT 3, 0, .r3, NO_CR2, `32-bit #BP (int3)`

    TRY .r4
.f4: ud2
.r4:
    EXPECT 6, 0, .f4, NO_CR2, `32-bit #UD (ud2)`

    mov ax, 0x1230
    TRY .r5
.f5: mov ds, ax                 ; index 246h is past the GDT limit
.r5:
    EXPECT 13, 0x1230, .f5, NO_CR2, `32-bit #GP (load DS with selector 1230h)`
    mov eax, ds
    CHECK eax, SEL_DATA32, `DS after the failed load`

    ; Paging: 0-4 MiB identity with 4 KiB pages, 003FF000 read-only, the
    ; rest not present; CR0.WP makes read-only apply to the kernel too.
    mov edi, PT32_PD
    mov ecx, 2 * 1024
    xor eax, eax
    rep stosd
    mov edi, PT0
    mov eax, 0x003
    mov ecx, 1024
.fill:
    stosd
    add eax, 0x1000
    loop .fill
    mov dword [PT0 + 0x3FF * 4], 0x3FF000 | 0x001
    mov dword [PT32_PD], PT0 | 0x003
    mov eax, PT32_PD
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80010000          ; PG, WP
    mov cr0, eax

    TRY .r7
.f7: mov eax, [0x400010]
.r7:
    EXPECT 14, 0, .f7, 0x400010, `32-bit #PF (read, not present)`
    TRY .r8
.f8: mov dword [0x400020], eax
.r8:
    EXPECT 14, 2, .f8, 0x400020, `32-bit #PF (write, not present)`
    mov eax, [0x3FF030]         ; reading the read-only page is fine
    TRY .r9
.f9: mov [0x3FF030], eax
.r9:
    EXPECT 14, 3, .f9, 0x3FF030, `32-bit #PF (write to a read-only page, CR0.WP=1)`
    mov eax, 0x400000
    TRY .r10
    jmp eax
.r10:
    EXPECT 14, 0, 0x400000, 0x400000, `32-bit #PF (instruction fetch, not present)`

    ; Paging off, then long mode with the 2 MiB page at 6 MiB read-only.
    mov eax, cr0
    and eax, 0x7FFFFFFF
    mov cr0, eax
    call build_long_tables
    mov dword [LM_PD + 3 * 8], 0x600000 | 0x81
    ENTER_LONG lm_entry

; ---------------------------------------------------------------------------
    bits 64
lm_entry:
    mov rsp, STACK_TOP
    call install_unexpected64
    call install_traps64
    PUTS `exceptions: 64-bit long mode\n`

    mov eax, 1
    xor edx, edx
    xor ecx, ecx
    TRY .r1
.f1: div rcx
.r1:
    EXPECT 0, 0, .f1, NO_CR2, `64-bit #DE (div by zero)`

    TRY .r2
    int3
.r2:
    EXPECT 3, 0, .r2, NO_CR2, `64-bit #BP (int3)`

    TRY .r3
.f3: ud2
.r3:
    EXPECT 6, 0, .f3, NO_CR2, `64-bit #UD (ud2)`

    mov rax, 0x0000800000000000
    TRY .r4
.f4: mov rbx, [rax]
.r4:
    EXPECT 13, 0, .f4, NO_CR2, `64-bit #GP (non-canonical address 0000800000000000)`

    mov ax, 0x1230
    TRY .r5
.f5: mov ds, ax
.r5:
    EXPECT 13, 0x1230, .f5, NO_CR2, `64-bit #GP (load DS with selector 1230h)`

    TRY .r6
.f6: mov rax, [0x40000010]      ; PDPT[1] is not present
.r6:
    EXPECT 14, 0, .f6, 0x40000010, `64-bit #PF (read, not present)`
    TRY .r7
.f7: mov [0x40000020], rax
.r7:
    EXPECT 14, 2, .f7, 0x40000020, `64-bit #PF (write, not present)`
    mov rax, [0x600040]
    TRY .r8
.f8: mov [0x600040], rax
.r8:
    EXPECT 14, 3, .f8, 0x600040, `64-bit #PF (write to a read-only 2 MiB page)`
    mov rbx, 0xFFFF800000001000
    TRY .r9
.f9: mov rax, [rbx]             ; PML4[256] is not present
.r9:
    EXPECT 14, 0, .f9, 0xFFFF800000001000, `64-bit #PF (read, higher half)`

    PASS `exceptions`

ROM_END
