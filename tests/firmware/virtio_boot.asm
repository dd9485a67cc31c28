; A boot sector for tests/firmware/virtio_boot_test.sh: SeaBIOS loads it
; from the virtio-blk disk; it prints a line on COM1, reads LBA 1 with
; INT 13h (SeaBIOS's virtio-blk driver again), prints the string found there
; and leaves through the debug-exit port with 0x10 (tandem exit status 33).
bits 16
org 0x7C00
start:
  cli
  xor ax, ax
  mov ds, ax
  mov es, ax
  mov ss, ax
  mov sp, 0x7C00
  mov [drive], dl         ; the boot drive SeaBIOS gave us (puts clobbers DX)
  mov si, hello
  call puts
  mov ax, 0x0201          ; read one sector
  mov cx, 0x0002          ; cylinder 0, sector 2 (LBA 1)
  xor dh, dh              ; head 0
  mov dl, [drive]
  mov bx, 0x7E00
  int 0x13
  jc .failed
  mov si, 0x7E00
  call puts
  mov al, 0x10
  out 0xF4, al
  hlt
.failed:
  mov si, failed
  call puts
  mov al, 0x11
  out 0xF4, al
  hlt

; Prints the zero-terminated string at DS:SI on COM1 (polled).
puts:
  lodsb
  test al, al
  jz .done
  mov ah, al
  mov dx, 0x3FD
.wait:
  in al, dx
  test al, 0x20
  jz .wait
  mov dx, 0x3F8
  mov al, ah
  out dx, al
  jmp puts
.done:
  ret

drive: db 0
hello: db "TANDEM-VIRTIO-BOOT from the virtio-blk disk", 13, 10, 0
failed: db "TANDEM-VIRTIO-BOOT INT 13h read failed", 13, 10, 0
  times 510 - ($ - $$) db 0
  dw 0xAA55
