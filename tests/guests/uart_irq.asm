; uart_irq: interrupt-driven transmit on COM1. IER bit 1 (THRE) enabled with
; MCR.OUT2 (the PC's IRQ gate), IRQ4 unmasked on the master i8259; the
; handler reads IIR and writes the next byte of a string for each THRE
; interrupt, and disables THRE after the last one. Then a polling loopback
; test (MCR bit 4) that reads back what it sends. Datasheet: NS PC16550D.
%include "rom.inc"
%include "serial.inc"
%include "exit.inc"
%include "pm.inc"
%include "pic.inc"

COM1_VEC    equ PIC_VECTOR_BASE + 4
TX_INDEX    equ VARS + 0        ; word: next byte of tx_message
TX_DONE     equ VARS + 2        ; byte
IRQ_COUNT   equ VARS + 4        ; word: interrupts taken
OTHER_IIR   equ VARS + 6        ; word: interrupts that were not THRE

start:
    REAL_INIT
    call install_unexpected16
    call serial_init16
    PUTS `uart_irq: interrupt-driven transmit through IRQ4 follows\n`
    PIC_INIT
    mov al, 0xEF                ; unmask IRQ4 only
    out PIC1_DATA, al
    SET_IVT COM1_VEC, uart_isr
    mov word [TX_INDEX], 0
    mov byte [TX_DONE], 0
    mov word [IRQ_COUNT], 0
    mov word [OTHER_IIR], 0

    mov dx, COM1 + UART_MCR
    mov al, 0x0B                ; DTR, RTS, OUT2
    out dx, al
    mov dx, COM1 + UART_IER
    mov al, 0x02                ; THRE interrupt: raised at once, THR is empty
    out dx, al
    sti
.wait:
    hlt
    cmp byte [TX_DONE], 0
    je .wait
    cli

    PUTS `uart_irq: `
    movzx eax, word [TX_INDEX]
    PUTDEC eax
    PUTS ` bytes sent in `
    movzx eax, word [IRQ_COUNT]
    PUTDEC eax
    PUTS ` THRE interrupts\n`
    movzx eax, word [TX_INDEX]
    CHECK eax, tx_message_len, `bytes sent`
    movzx eax, word [IRQ_COUNT]
    CHECK eax, tx_message_len + 1, `interrupt count (one per byte, one to finish)`
    movzx eax, word [OTHER_IIR]
    CHECK eax, 0, `interrupts other than THRE`

    mov dx, COM1 + UART_IIR
    in al, dx
    movzx ecx, al
    PUTS `IIR with THRE disabled: `
    PUTHEX ecx, 2
    mov dx, COM1 + UART_IER
    in al, dx
    movzx ebx, al
    PUTS `, IER: `
    PUTHEX ebx, 2
    PUTC `\n`
    CHECK ecx, 0x01, `IIR: no interrupt pending`
    CHECK ebx, 0x00, `IER`

    ; Loopback: transmitted bytes come back to the receiver, not the line.
    mov dx, COM1 + UART_MCR
    mov al, 0x13                ; loopback, DTR, RTS
    out dx, al
    mov si, R(loop_message)
    mov di, 0x5000              ; received bytes
.loop_next:
    cs lodsb
    test al, al
    jz .loop_done
    call putc16                 ; waits for THRE, then writes THR
    mov dx, COM1 + UART_LSR
    mov cx, 0xFFFF
.wait_dr:
    in al, dx
    test al, 0x01               ; data ready
    jnz .got
    loop .wait_dr
    FAIL 0x60, `loopback: no data received`
.got:
    mov dx, COM1 + UART_THR
    in al, dx
    mov [di], al
    inc di
    jmp .loop_next
.loop_done:
    mov byte [di], 0
    mov dx, COM1 + UART_MCR
    mov al, 0x03
    out dx, al
    PUTS `loopback: received "`
    mov si, 0x5000
.print:
    lodsb
    test al, al
    jz .printed
    call putc16
    jmp .print
.printed:
    PUTS `"\n`
    mov si, 0x5000
    mov di, R(loop_message)
.cmp:
    mov al, [si]
    cmp al, [cs:di]
    jne .mismatch
    inc si
    inc di
    test al, al
    jnz .cmp
    PASS `uart_irq`
.mismatch:
    FAIL 0x61, `loopback data differs`

uart_isr:
    push ax
    push bx
    push dx
    inc word [IRQ_COUNT]
    mov dx, COM1 + UART_IIR
    in al, dx
    and al, 0x0F
    cmp al, 0x02                ; THR empty
    je .thre
    inc word [OTHER_IIR]
    jmp .eoi
.thre:
    mov bx, [TX_INDEX]
    mov al, [cs:bx + R(tx_message)]
    test al, al
    jz .finish
    mov dx, COM1 + UART_THR
    out dx, al
    inc word [TX_INDEX]
    jmp .eoi
.finish:
    mov dx, COM1 + UART_IER
    xor al, al
    out dx, al
    mov byte [TX_DONE], 1
.eoi:
    PIC_EOI
    pop dx
    pop bx
    pop ax
    iret

tx_message:
    db `this line was sent one byte per THRE interrupt by the IRQ4 handler\n`
tx_message_len equ $ - tx_message
    db 0
loop_message:
    db `tandem loopback`, 0

ROM_END
