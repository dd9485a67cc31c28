// Status and Result: an ok Status has an empty message, and a Result made
// from an ok Status is an error that says so (it holds no value).
#include "hw/status.h"

#include <gtest/gtest.h>

namespace tandem {
namespace {

TEST(StatusTest, OkHasAnEmptyMessage) {
  Status ok;
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.message(), "");
  Status bad = Status::Error("bad image");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.message(), "bad image");
}

TEST(StatusTest, ResultFromAnOkStatusIsAnErrorThatSaysSo) {
  Result<int> r = Status();
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.message().find("ok Status"), std::string::npos) << r.message();
  EXPECT_FALSE(r.status().ok());
}

TEST(StatusTest, ResultCarriesValueOrError) {
  Result<int> v = 7;
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 7);
  EXPECT_TRUE(v.status().ok());
  Result<int> e = Status::Error("too large");
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.message(), "too large");
}

}  // namespace
}  // namespace tandem
