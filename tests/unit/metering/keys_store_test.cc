// API keys in both stores: create / list / find / revoke / rotate, secrets stored only
// as hashes, names that try SQL injection stay plain names.
#include <gtest/gtest.h>

#include "metering_backends.h"
#include "moxie/core/error.h"
#include "moxie/server/metering/api_key.h"
#include "moxie/server/metering/keys_table.h"

namespace moxie::metering {
namespace {
using testing::Backend;

class KeysStore : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    MOXIE_OPEN_TEST_DATABASE(db_);
    store_ = std::make_unique<Store>(db_->url());
  }
  void TearDown() override { store_.reset(); }
  std::unique_ptr<testing::TestDatabase> db_;
  std::unique_ptr<Store> store_;
};

TEST_P(KeysStore, CreateListFindRevoke) {
  KeyLimits limits;
  limits.budget = 5'000'000'000;
  limits.rpm = 60;
  limits.tpm = 100'000;
  limits.models = {"a", "b"};
  limits.expires_us = 2'000'000'000'000'000;
  const CreatedKey alice = create_key(*store_, "alice", limits, 1'000);
  const CreatedKey bob = create_key(*store_, "bob", {}, 2'000);
  EXPECT_NE(alice.secret, bob.secret);

  const auto keys = list_keys(*store_, false);
  ASSERT_EQ(keys.size(), 2u);  // the anonymous free tier is not listed
  EXPECT_EQ(keys[0].name, "alice");
  EXPECT_EQ(keys[0].limits.budget, 5'000'000'000);
  EXPECT_EQ(keys[0].limits.rpm, 60);
  EXPECT_EQ(keys[0].limits.tpm, 100'000);
  EXPECT_EQ(keys[0].limits.models, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(keys[0].limits.expires_us, 2'000'000'000'000'000);
  EXPECT_FALSE(keys[1].limits.budget.has_value());
  EXPECT_TRUE(keys[1].limits.models.empty());

  EXPECT_EQ(find_key(*store_, alice.record.id).name, "alice");
  EXPECT_EQ(find_key(*store_, "bob").id, bob.record.id);
  EXPECT_THROW(find_key(*store_, "carol"), Error);

  revoke_key(*store_, "alice", 3'000);
  EXPECT_THROW(revoke_key(*store_, "alice", 4'000), Error);
  EXPECT_EQ(list_keys(*store_, false).size(), 1u);
  ASSERT_EQ(list_keys(*store_, true).size(), 2u);
  EXPECT_EQ(list_keys(*store_, true)[0].revoked_us, 3'000);
}

TEST_P(KeysStore, StoresOnlyTheHashOfTheSecret) {
  const CreatedKey k = create_key(*store_, "k", {}, 1);
  const SqlRows rows = store_->read([&](SqlDb& db) { return db.query("SELECT * FROM api_keys", {}); });
  bool found_hash = false;
  for (const auto& row : rows)
    for (const auto& v : row) {
      EXPECT_EQ(as_text(v).find(k.secret.substr(3)), std::string::npos) << "secret stored in the clear";
      found_hash |= as_text(v) == sha256_hex(k.secret);
    }
  EXPECT_TRUE(found_hash);
}

TEST_P(KeysStore, RotateKeepsTheKeyAndChangesTheSecret) {
  const CreatedKey k = create_key(*store_, "k", KeyLimits{1000, {}, {}, {}, {}}, 1);
  const CreatedKey rotated = rotate_key(*store_, "k");
  EXPECT_EQ(rotated.record.id, k.record.id);
  EXPECT_NE(rotated.secret, k.secret);
  const SqlRows hashes = store_->read(
      [&](SqlDb& db) { return db.query("SELECT secret_hash FROM api_keys WHERE id = ?", {k.record.id}); });
  EXPECT_EQ(as_text(hashes.at(0)[0]), sha256_hex(rotated.secret));
  revoke_key(*store_, "k", 2);
  EXPECT_THROW(rotate_key(*store_, "k"), Error);
}

TEST_P(KeysStore, RejectsBadNamesAndLimits) {
  create_key(*store_, "dup", {}, 1);
  EXPECT_THROW(create_key(*store_, "dup", {}, 2), Error);
  EXPECT_THROW(create_key(*store_, "", {}, 2), Error);
  EXPECT_THROW(create_key(*store_, std::string(129, 'x'), {}, 2), Error);
  EXPECT_THROW(create_key(*store_, "anonymous", {}, 2), Error);
  EXPECT_THROW(create_key(*store_, std::string("nul\0byte", 8), {}, 2), Error);
  EXPECT_THROW(create_key(*store_, "line\nbreak", {}, 2), Error);
  KeyLimits bad;
  bad.rpm = 0;
  EXPECT_THROW(create_key(*store_, "r", bad, 2), Error);
  bad = {};
  bad.budget = -1;
  EXPECT_THROW(create_key(*store_, "b", bad, 2), Error);
  bad = {};
  bad.models = {"a", ""};
  EXPECT_THROW(create_key(*store_, "m", bad, 2), Error);
  EXPECT_THROW(revoke_key(*store_, "anonymous", 3), Error);
}

TEST_P(KeysStore, SqlInjectionInNamesIsJustAName) {
  const std::vector<std::string> names = {
      "x'); DROP TABLE api_keys; --", "' OR '1'='1", "a\"b", "robert'); DELETE FROM usage; --", "%", "_", "?",
      "$1", "名前"};
  for (const auto& n : names) create_key(*store_, n, {}, 1);
  const auto keys = list_keys(*store_, true);
  ASSERT_EQ(keys.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) EXPECT_EQ(find_key(*store_, names[i]).name, names[i]);
  // Revoking "' OR '1'='1" revokes exactly that key.
  revoke_key(*store_, "' OR '1'='1", 5);
  EXPECT_EQ(list_keys(*store_, false).size(), names.size() - 1);
  EXPECT_THROW(find_key(*store_, "' OR 1=1 --"), Error);
}

TEST_P(KeysStore, ReopeningKeepsKeysAndSchema) {
  create_key(*store_, "persist", {}, 1);
  const int version = store_->schema_version();
  store_.reset();
  store_ = std::make_unique<Store>(db_->url());
  EXPECT_EQ(store_->schema_version(), version);
  EXPECT_EQ(find_key(*store_, "persist").name, "persist");
}

INSTANTIATE_TEST_SUITE_P(Stores, KeysStore, ::testing::Values(Backend::sqlite, Backend::postgres),
                         testing::backend_name);

}  // namespace
}  // namespace moxie::metering
