; pmode_paging: real mode -> 32-bit protected mode (GDT, far jump) -> 32-bit
; paging (SDM vol. 3A 4.3) with an identity map of 4 KiB pages (0-4 MiB) and
; 4 MiB pages (CR4.PSE), then writes and reads through alias mappings,
; checks the accessed/dirty bits the walks set, and that INVLPG and a CR3
; reload make a changed mapping visible.
%include "rom.inc"
%include "serial.inc"
%include "exit.inc"
%include "pm.inc"

PD   equ PT32_PD                ; page directory
PT0  equ PT32_PD + 0x1000       ; 0-4 MiB identity, 4 KiB pages
PT1  equ PT32_PD + 0x2000       ; 12 MiB: 4 KiB alias window
PG_P  equ 0x01
PG_RW equ 0x02
PG_A  equ 0x20
PG_D  equ 0x40
PG_PS equ 0x80

start:
    REAL_INIT
    call install_unexpected16
    call serial_init16
    PUTS `pmode_paging: real mode, entering 32-bit protected mode\n`
    ENTER_PM32 pm_entry

    bits 32
pm_entry:
    PM32_INIT
    call install_unexpected32
    PUTS `protected mode: CS=`
    mov eax, cs
    PUTHEX eax, 4
    PUTS ` DS=`
    mov eax, ds
    PUTHEX eax, 4
    PUTS ` SS=`
    mov eax, ss
    PUTHEX eax, 4
    PUTS ` CR0=`
    mov eax, cr0
    PUTHEX eax, 8
    PUTC `\n`
    CHECK eax, 0x00000011, `CR0 in protected mode`

    ; Page tables: PD[0] -> PT0 (identity 0-4 MiB), PD[1] 4 MiB page at
    ; 4 MiB (identity), PD[2] 4 MiB page at 8 MiB -> 4 MiB (alias),
    ; PD[3] -> PT1 whose entry 0 maps 12 MiB -> 3 MiB.
    mov edi, PD
    mov ecx, 3 * 1024
    xor eax, eax
    rep stosd
    mov edi, PT0
    mov eax, PG_P | PG_RW
    mov ecx, 1024
.fill:
    stosd
    add eax, 0x1000
    loop .fill
    mov dword [PD + 0 * 4], PT0 | PG_P | PG_RW
    mov dword [PD + 1 * 4], 0x400000 | PG_PS | PG_P | PG_RW
    mov dword [PD + 2 * 4], 0x400000 | PG_PS | PG_P | PG_RW
    mov dword [PD + 3 * 4], PT1 | PG_P | PG_RW
    mov dword [PT1 + 0 * 4], 0x300000 | PG_P | PG_RW
    ; Markers written while paging is off (physical addresses).
    mov dword [0x400010], 0x11111111
    mov dword [0x300020], 0x22222222
    mov dword [0x301020], 0x600DF00D

    mov eax, cr4
    or eax, 0x10                ; PSE
    mov cr4, eax
    mov eax, PD
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000          ; PG
    mov cr0, eax
    jmp .paged
.paged:
    PUTS `paging on: CR0=`
    mov eax, cr0
    PUTHEX eax, 8
    PUTS ` CR3=`
    mov ebx, cr3
    PUTHEX ebx, 8
    PUTS ` CR4=`
    mov ecx, cr4
    PUTHEX ecx, 8
    PUTC `\n`
    CHECK eax, 0x80000011, `CR0 with paging`
    CHECK ebx, PD, `CR3`
    CHECK ecx, 0x10, `CR4`

    ; 4 MiB pages: the marker is visible through both mappings, and a write
    ; through the alias lands in the same physical page.
    mov eax, [0x800010]
    PUTS `4 MiB alias: read 00800010 -> `
    PUTHEX eax, 8
    PUTC `\n`
    CHECK eax, 0x11111111, `read through the 4 MiB alias`
    mov dword [0x800010], 0x12345678
    mov eax, [0x400010]
    PUTS `4 MiB alias: wrote 12345678 at 00800010, read 00400010 -> `
    PUTHEX eax, 8
    PUTC `\n`
    CHECK eax, 0x12345678, `write through the 4 MiB alias`

    ; 4 KiB page: 00C00000 maps physical 00300000.
    mov eax, [0xC00020]
    PUTS `4 KiB alias: read 00C00020 -> `
    PUTHEX eax, 8
    PUTC `\n`
    CHECK eax, 0x22222222, `read through the 4 KiB alias`
    mov dword [0xC00020], 0xCAFEBABE
    mov eax, [0x300020]
    PUTS `4 KiB alias: wrote CAFEBABE at 00C00020, read 00300020 -> `
    PUTHEX eax, 8
    PUTC `\n`
    CHECK eax, 0xCAFEBABE, `write through the 4 KiB alias`

    ; Accessed and dirty bits: set by the walks above (D only on writes).
    PUTS `PDE[1]=`
    mov eax, [PD + 1 * 4]
    PUTHEX eax, 8
    CHECK eax, 0x400000 | PG_PS | PG_A | PG_P | PG_RW, `PDE[1]: accessed, not dirty`
    PUTS ` PDE[2]=`
    mov eax, [PD + 2 * 4]
    PUTHEX eax, 8
    CHECK eax, 0x400000 | PG_PS | PG_D | PG_A | PG_P | PG_RW, `PDE[2]: accessed and dirty`
    PUTS ` PDE[3]=`
    mov eax, [PD + 3 * 4]
    PUTHEX eax, 8
    CHECK eax, PT1 | PG_A | PG_P | PG_RW, `PDE[3]: accessed`
    PUTS ` PTE1[0]=`
    mov eax, [PT1 + 0 * 4]
    PUTHEX eax, 8
    PUTC `\n`
    CHECK eax, 0x300000 | PG_D | PG_A | PG_P | PG_RW, `PT1[0]: accessed and dirty`

    ; Remap 00C00000 to physical 00301000: INVLPG makes it visible.
    mov dword [PT1 + 0 * 4], 0x301000 | PG_P | PG_RW
    invlpg [0xC00000]
    mov eax, [0xC00020]
    PUTS `after remap and INVLPG: read 00C00020 -> `
    PUTHEX eax, 8
    PUTC `\n`
    CHECK eax, 0x600DF00D, `INVLPG`
    ; ...and back to 00300000 with a CR3 reload.
    mov dword [PT1 + 0 * 4], 0x300000 | PG_P | PG_RW
    mov eax, cr3
    mov cr3, eax
    mov eax, [0xC00020]
    PUTS `after remap and CR3 reload: read 00C00020 -> `
    PUTHEX eax, 8
    PUTC `\n`
    CHECK eax, 0xCAFEBABE, `CR3 reload`

    PASS `pmode_paging`

ROM_END
