; exceptions: faults and traps in real mode, 32-bit protected mode and
; 64-bit long mode (SDM vol. 3A ch. 6): #DE, #BP, #UD, #GP (real-mode limit,
; bad selector, read-only segment, non-canonical address) and #PF (not
; present, write, read-only with CR0.WP, instruction fetch, higher half) with
; the error code, the saved instruction pointer (fault: the faulting
; instruction; trap: the next one) and CR2 checked. Handlers record the
; exception and resume at the address the test set (as kvm-unit-tests'
; ASM_TRY does).
%include "rom.inc"
%include "serial.inc"
%include "exit.inc"
%include "pm.inc"

EXC_VEC     equ VARS + 0x00     ; vector seen, FFh for none
EXC_ERR     equ VARS + 0x08     ; error code (protected/long mode)
EXC_IP      equ VARS + 0x10     ; saved IP/EIP/RIP
EXC_CR2     equ VARS + 0x18
EXC_RESUME  equ VARS + 0x20     ; where the handler returns to; 0: unexpected
NO_CR2      equ -1              ; "do not check CR2"

PT0 equ PT32_PD + 0x1000

; TRY resume: arms the handlers for one exception, which returns to resume.
%macro TRY 1
%if __BITS__ == 16
    mov byte [EXC_VEC], 0xFF
    mov word [EXC_RESUME], R(%1)
%elif __BITS__ == 32
    mov byte [EXC_VEC], 0xFF
    mov dword [EXC_RESUME], %1
%else
    mov byte [EXC_VEC], 0xFF
    mov qword [EXC_RESUME], %1
%endif
%endmacro

; EXPECT vector, error, ip_label, cr2, description: checks what the handler
; recorded (error and cr2 ignored in real mode) and prints it.
%macro EXPECT 5+
    PUTS %5, `: `
%if __BITS__ == 16
    mov bl, %1
    mov dx, R(%3)
    call check_exc16
%elif __BITS__ == 32
    mov ebx, %1
    mov ecx, %2
    mov edx, %3
    mov esi, %4
    call check_exc32
%else
    mov rbx, %1
    mov rcx, %2
    mov rdx, %3
    mov rsi, %4
    call check_exc64
%endif
%endmacro

start:
    REAL_INIT
    call install_unexpected16
    call serial_init16
    PUTS `exceptions: real mode\n`
    SET_IVT 0, real_exc0
    SET_IVT 3, real_exc3
    SET_IVT 6, real_exc6
    SET_IVT 13, real_exc13

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

    TRY .r4
.f4: mov ax, [0xFFFF]           ; the second byte is past the 64 KiB limit
.r4:
    EXPECT 13, 0, .f4, 0, `real mode #GP (word access at DS:FFFF)`

    ENTER_PM32 pm_entry

real_exc0:
    mov byte [EXC_VEC], 0
    jmp real_exc_common
real_exc3:
    mov byte [EXC_VEC], 3
    jmp real_exc_common
real_exc6:
    mov byte [EXC_VEC], 6
    jmp real_exc_common
real_exc13:
    mov byte [EXC_VEC], 13
real_exc_common:                ; [sp] IP, CS, FLAGS
    push bp
    mov bp, sp
    push ax
    mov ax, [bp + 2]
    mov [EXC_IP], ax
    mov ax, [EXC_RESUME]
    test ax, ax
    jz .unexpected
    mov [bp + 2], ax
    mov word [EXC_RESUME], 0
    pop ax
    pop bp
    iret
.unexpected:
    PUTS `\nunexpected exception in real mode: vector `
    movzx eax, byte [EXC_VEC]
    PUTHEX eax, 2
    PUTS ` at IP `
    movzx eax, word [EXC_IP]
    PUTHEX eax, 4
    PUTC `\n`
    EXIT UNEXPECTED_EXIT

check_exc16:                    ; BL vector, DX IP
    cmp byte [EXC_VEC], 0xFF
    je .none
    PUTS `vector `
    movzx eax, byte [EXC_VEC]
    PUTHEX eax, 2
    cmp [EXC_VEC], bl
    jne .vector
    cmp [EXC_IP], dx
    jne .ip
    PUTS `, ip ok\n`
    ret

.none:
    FAIL 0x40, `no exception`
.vector:
    FAIL 0x41, `wrong vector`
.ip:
    FAIL 0x43, `wrong saved instruction pointer`

; ---------------------------------------------------------------------------
    bits 32
pm_entry:
    PM32_INIT
    call install_unexpected32
%assign v 0
%rep 32
    mov eax, v
    mov edx, exc32_%[v]
    call idt32_set
%assign v v + 1
%endrep
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

    mov ax, SEL_DATA32_RO
    mov es, ax
    TRY .r6
.f6: mov byte [es:0x5000], 1
.r6:
    EXPECT 13, 0, .f6, NO_CR2, `32-bit #GP (write through a read-only data segment)`
    mov ax, SEL_DATA32
    mov es, ax

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

check_exc32:                    ; EBX vector, ECX error, EDX EIP, ESI CR2 or NO_CR2
    cmp byte [EXC_VEC], 0xFF
    je .none
    PUTS `vector `
    PUTHEX [EXC_VEC], 2
    PUTS ` error `
    PUTHEX [EXC_ERR], 8
    cmp esi, NO_CR2
    je .no_cr2
    PUTS ` cr2 `
    PUTHEX [EXC_CR2], 8
.no_cr2:
    cmp [EXC_VEC], bl
    jne .vector
    cmp [EXC_ERR], ecx
    jne .error
    cmp [EXC_IP], edx
    jne .ip
    cmp esi, NO_CR2
    je .ok
    cmp [EXC_CR2], esi
    jne .cr2
.ok:
    PUTS `, eip ok\n`
    ret
.none:
    FAIL 0x40, `no exception`
.vector:
    FAIL 0x41, `wrong vector`
.error:
    FAIL 0x42, `wrong error code`
.ip:
    FAIL 0x43, `wrong saved instruction pointer`
.cr2:
    FAIL 0x44, `wrong CR2`

; Vectors with an error code (SDM vol. 3A table 6-1).
%define HAS_ERROR(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)
%assign v 0
%rep 32
exc32_%[v]:
%if HAS_ERROR(v) == 0
    push 0
%endif
    push v
    jmp exc32_common
%assign v v + 1
%endrep

exc32_common:                   ; [esp] vector, error, EIP, CS, EFLAGS
    push eax
    mov eax, [esp + 4]
    mov [EXC_VEC], eax
    mov eax, [esp + 8]
    mov [EXC_ERR], eax
    mov eax, [esp + 12]
    mov [EXC_IP], eax
    mov eax, cr2
    mov [EXC_CR2], eax
    mov eax, [EXC_RESUME]
    test eax, eax
    jz .unexpected
    mov [esp + 12], eax
    mov dword [EXC_RESUME], 0
    pop eax
    add esp, 8
    iretd
.unexpected:
    PUTS `\nunexpected exception in 32-bit mode: vector `
    PUTHEX [EXC_VEC], 2
    PUTS ` error `
    PUTHEX [EXC_ERR], 8
    PUTS ` eip `
    PUTHEX [EXC_IP], 8
    PUTS ` cr2 `
    PUTHEX [EXC_CR2], 8
    PUTC `\n`
    EXIT UNEXPECTED_EXIT

; ---------------------------------------------------------------------------
    bits 64
lm_entry:
    mov rsp, STACK_TOP
    call install_unexpected64
%assign v 0
%rep 32
    mov eax, v
    mov edx, exc64_%[v]
    call idt64_set
%assign v v + 1
%endrep
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

check_exc64:                    ; RBX vector, RCX error, RDX RIP, RSI CR2 or NO_CR2
    cmp byte [EXC_VEC], 0xFF
    je .none
    PUTS `vector `
    PUTHEX [EXC_VEC], 2
    PUTS ` error `
    PUTHEX [EXC_ERR], 8
    cmp rsi, NO_CR2
    je .no_cr2
    PUTS ` cr2 `
    PUTHEX [EXC_CR2], 16
.no_cr2:
    cmp [EXC_VEC], bl
    jne .vector
    cmp [EXC_ERR], rcx
    jne .error
    cmp [EXC_IP], rdx
    jne .ip
    cmp rsi, NO_CR2
    je .ok
    cmp [EXC_CR2], rsi
    jne .cr2
.ok:
    PUTS `, rip ok\n`
    ret
.none:
    FAIL 0x40, `no exception`
.vector:
    FAIL 0x41, `wrong vector`
.error:
    FAIL 0x42, `wrong error code`
.ip:
    FAIL 0x43, `wrong saved instruction pointer`
.cr2:
    FAIL 0x44, `wrong CR2`

%assign v 0
%rep 32
exc64_%[v]:
%if HAS_ERROR(v) == 0
    push 0
%endif
    push v
    jmp exc64_common
%assign v v + 1
%endrep

exc64_common:                   ; [rsp] vector, error, RIP, CS, RFLAGS, RSP, SS
    push rax
    mov rax, [rsp + 8]
    mov [EXC_VEC], rax
    mov rax, [rsp + 16]
    mov [EXC_ERR], rax
    mov rax, [rsp + 24]
    mov [EXC_IP], rax
    mov rax, cr2
    mov [EXC_CR2], rax
    mov rax, [EXC_RESUME]
    test rax, rax
    jz .unexpected
    mov [rsp + 24], rax
    mov qword [EXC_RESUME], 0
    pop rax
    add rsp, 16
    iretq
.unexpected:
    PUTS `\nunexpected exception in 64-bit mode: vector `
    PUTHEX [EXC_VEC], 2
    PUTS ` error `
    PUTHEX [EXC_ERR], 8
    PUTS ` rip `
    PUTHEX [EXC_IP], 16
    PUTS ` cr2 `
    PUTHEX [EXC_CR2], 16
    PUTC `\n`
    EXIT UNEXPECTED_EXIT

ROM_END
