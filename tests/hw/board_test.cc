#include "hw/board.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "hw/pc_layout.h"

namespace tandem::hw {
namespace {

// Host serial input reaches COM1's receive buffer; with console escapes on,
// Ctrl-A x ends the run and Ctrl-A Ctrl-A passes one Ctrl-A through.
class BoardSerialInput : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(pipe(fds_), 0); }
  void TearDown() override {
    close(fds_[0]);
    if (fds_[1] >= 0) close(fds_[1]);
  }
  std::unique_ptr<Board> Make(bool escapes) {
    BoardConfig config;
    config.ram_size = 16 << 20;
    config.serial_in_fd = fds_[0];
    config.console_escapes = escapes;
    auto board = Board::Create(std::move(config));
    EXPECT_TRUE(board.ok());
    (*board)->pio().Write(layout::kCom1Port + 2, 1, 0x01);  // FCR: FIFOs on, 16 bytes deep
    return std::move(board.value());
  }
  void Send(const std::string& text) { ASSERT_EQ(write(fds_[1], text.data(), text.size()), (ssize_t)text.size()); }
  std::string Received(Board& board) {
    std::string got;
    while (board.pio().Read(layout::kCom1Port + 5, 1) & 1) {  // LSR.DR
      got.push_back(static_cast<char>(board.pio().Read(layout::kCom1Port, 1)));
    }
    return got;
  }
  int fds_[2] = {-1, -1};
};

TEST_F(BoardSerialInput, BytesReachTheUart) {
  auto board = Make(false);
  Send("ls\r\x01x");
  board->Poll();
  EXPECT_EQ(Received(*board), "ls\r\x01x");
  EXPECT_FALSE(board->stop_requested());
}

TEST_F(BoardSerialInput, CtrlAXEndsTheRunAndCtrlACtrlASendsOne) {
  auto board = Make(true);
  Send("a\x01\x01" "b");
  board->Poll();
  EXPECT_EQ(Received(*board), "a\x01" "b");
  EXPECT_FALSE(board->stop_requested());
  Send("\x01x");
  board->Poll();
  EXPECT_EQ(board->stop_reason(), StopReason::kExit);
  EXPECT_EQ(board->exit_status(), 0);
}

}  // namespace
}  // namespace tandem::hw
