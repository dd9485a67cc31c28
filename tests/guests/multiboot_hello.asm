; multiboot_hello: a Multiboot v1 kernel (ELF32, linked by multiboot.ld at
; 1 MiB). Checks the machine state of spec 0.6.96 section 3.2 (EAX magic,
; 4 GiB data segments, CR0.PE=1 and PG=0, EFLAGS.IF=VM=0), that its .data
; was loaded and .bss zeroed, and prints the Multiboot information: flags,
; mem_lower/mem_upper, the command line, the boot loader name and the
; memory map entries. The values are the loader's, so the expected transcript
; (not the kernel) holds them; the kernel only checks they are sane.
%define SERIAL_NO16
%define SERIAL_NO64
%define R(x) (x)
%include "serial.inc"
%include "exit.inc"

MB_MAGIC        equ 0x1BADB002
MB_FLAGS        equ 0x00000003  ; page-align modules, memory information
MB_LOADER_MAGIC equ 0x2BADB002

    section .multiboot
    align 4
    dd MB_MAGIC
    dd MB_FLAGS
    dd -(MB_MAGIC + MB_FLAGS)

    section .data
data_word: dd 0x5AA5C33C

    section .bss
    alignb 16
bss_words: resd 64
stack: resb 4096
stack_top:

    section .text
    bits 32
    global _start
_start:
    mov esp, stack_top
    mov [boot_eax], eax
    mov [boot_ebx], ebx
    pushfd
    pop dword [boot_eflags]
    call serial_init32
    PUTS `multiboot_hello: EAX=`
    PUTHEX [boot_eax], 8
    PUTC `\n`
    CHECK dword [boot_eax], MB_LOADER_MAGIC, `EAX magic`

    ; Machine state (spec 3.2).
    mov eax, cr0
    and eax, 0x80000001
    CHECK eax, 1, `CR0: PE set, PG clear`
    mov eax, [boot_eflags]
    and eax, 0x00020200
    CHECK eax, 0, `EFLAGS: IF and VM clear`
    ; The GDTR may be invalid (spec 3.2), so no LSL/LAR and no segment
    ; loads: reading near 4 GiB through DS, ES and SS shows their limits
    ; cover 4 GiB (a smaller limit would fault, and with no IDT the machine
    ; would reset).
    mov eax, [0xFFFFFFF0]
    mov eax, [es:0xFFFFFFF0]
    mov eax, [ss:0xFFFFFFF0]
    PUTS `state: protected mode, paging off, interrupts off, flat 4 GiB segments\n`
    CHECK dword [data_word], 0x5AA5C33C, `.data contents`
    mov edi, bss_words
    mov ecx, 64
    xor eax, eax
    repe scasd
    CHECK ecx, 0, `.bss zeroed`
    PUTS `image: .data loaded, .bss zeroed\n`

    mov ebx, [boot_ebx]
    mov esi, [ebx]              ; flags
    PUTS `info flags: `
    PUTHEX esi, 8
    PUTC `\n`
    test esi, 1 << 0
    jz .no_mem
    PUTS `mem_lower: `
    PUTDEC [ebx + 4]
    PUTS ` KiB, mem_upper: `
    PUTDEC [ebx + 8]
    PUTS ` KiB\n`
    cmp dword [ebx + 4], 640
    ja .bad_mem
    cmp dword [ebx + 8], 0
    je .bad_mem
    jmp .mem_done
.bad_mem:
    FAIL 0x33, `mem_lower above 640 KiB or mem_upper zero`
.no_mem:
    FAIL 0x30, `no memory information (flag 0)`
.mem_done:
    test esi, 1 << 2
    jz .no_cmdline
    PUTS `cmdline: "`
    push esi
    mov esi, [ebx + 16]
    call puts32
    pop esi
    PUTS `"\n`
    jmp .cmdline_done
.no_cmdline:
    FAIL 0x31, `no command line (flag 2)`
.cmdline_done:
    test esi, 1 << 9
    jz .no_name
    PUTS `boot loader: "`
    push esi
    mov esi, [ebx + 64]
    call puts32
    pop esi
    PUTS `"\n`
.no_name:
    test esi, 1 << 6
    jz .no_mmap
    mov edi, [ebx + 48]         ; mmap_addr
    mov ebp, edi
    add ebp, [ebx + 44]         ; end
    PUTS `memory map (`
    PUTDEC [ebx + 44]
    PUTS ` bytes):\n`
    xor edx, edx                ; RAM above 1 MiB, KiB
.entry:
    cmp edi, ebp
    jae .mmap_done
    PUTS `  base `
    PUTHEX [edi + 8], 8
    PUTHEX [edi + 4], 8
    PUTS ` length `
    PUTHEX [edi + 16], 8
    PUTHEX [edi + 12], 8
    PUTS ` type `
    PUTDEC [edi + 20]
    PUTC `\n`
    cmp dword [edi + 4], 0x100000
    jne .next
    cmp dword [edi + 20], 1
    jne .next
    mov edx, [edi + 12]
.next:
    add edi, [edi]
    add edi, 4
    jmp .entry
.mmap_done:
    test edx, edx
    jnz .mmap_ok
    FAIL 0x34, `memory map: no RAM entry at 1 MiB`
.mmap_ok:
    PASS `multiboot_hello`
.no_mmap:
    FAIL 0x32, `no memory map (flag 6)`

    section .bss
boot_eax: resd 1
boot_ebx: resd 1
boot_eflags: resd 1
