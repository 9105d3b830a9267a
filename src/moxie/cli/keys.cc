// moxie keys create --name NAME [--budget USD] [--rpm N] [--tpm N] [--models a,b] [--expires DATE]
// moxie keys list [--all] [--json]      moxie keys revoke KEY      moxie keys rotate KEY
// Every form takes --db PATH|postgresql://... (default: $MOXIE_DB or ~/.local/share/moxie/metering.db).
// The secret is printed once, by create and rotate; the database keeps only its SHA-256.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "moxie/cli/commands.h"
#include "moxie/core/error.h"
#include "moxie/server/metering/keys_table.h"
#include "moxie/server/metering/meter.h"
#include "moxie/server/metering/store.h"
#include "moxie/server/metering/time_text.h"
#include "moxie/server/metering/usage_report.h"

namespace moxie::cli {
namespace {
using namespace moxie::metering;

std::unique_ptr<Store> open_store(const std::string& db) {
  return std::make_unique<Store>(db.empty() ? default_database_url() : db);
}

std::string limit_text(const std::optional<int64_t>& v) { return v ? std::to_string(*v) : "-"; }

void print_secret(const CreatedKey& k, const char* verb) {
  std::printf("%s key %s (%s)\n", verb, k.record.id.c_str(), k.record.name.c_str());
  std::printf("secret (shown once, store it now): %s\n", k.secret.c_str());
}

void print_keys_table(const std::vector<KeyRecord>& keys) {
  std::printf("%-20s  %-20s  %-10s  %14s  %14s  %8s  %9s  %-20s  %s\n", "id", "name", "state", "budget_usd",
              "spent_usd", "rpm", "tpm", "expires", "models");
  for (const auto& k : keys) {
    const char* state = k.revoked_us ? "revoked" : "active";
    std::printf("%-20s  %-20s  %-10s  %14s  %14s  %8s  %9s  %-20s  %s\n", k.id.c_str(), k.name.c_str(), state,
                k.limits.budget ? format_usd(*k.limits.budget).c_str() : "-", format_usd(k.spent).c_str(),
                limit_text(k.limits.rpm).c_str(), limit_text(k.limits.tpm).c_str(),
                k.limits.expires_us ? format_time(*k.limits.expires_us).c_str() : "never",
                k.limits.models.empty() ? "*" : join_models(k.limits.models).c_str());
  }
}

struct CreateArgs {
  std::string db, name, budget, models, expires;
  std::optional<int64_t> rpm, tpm;
};

int run_create(const CreateArgs& a) {
  KeyLimits limits;
  const int64_t now = system_now_us();
  if (!a.budget.empty()) limits.budget = parse_usd(a.budget, "--budget");
  limits.rpm = a.rpm;
  limits.tpm = a.tpm;
  limits.models = split_models(a.models);
  if (!a.expires.empty()) {
    limits.expires_us = parse_time(a.expires, now, "--expires");
    if (*limits.expires_us <= now) throw Error("--expires: '" + a.expires + "' is in the past");
  }
  auto store = open_store(a.db);
  print_secret(create_key(*store, a.name, limits, now), "created");
  return 0;
}

void add_create(CLI::App& keys) {
  auto* cmd = keys.add_subcommand("create", "Create an API key; prints its secret once");
  auto args = std::make_shared<CreateArgs>();
  cmd->add_option("--db", args->db, "SQLite file or postgresql:// URL");
  cmd->add_option("--name", args->name, "a unique name for the key")->required();
  cmd->add_option("--budget", args->budget, "lifetime spending cap in USD, e.g. 5 or 0.25 (default: none)");
  cmd->add_option("--rpm", args->rpm, "requests per minute (default: unlimited)");
  cmd->add_option("--tpm", args->tpm, "prompt + completion tokens per minute (default: unlimited)");
  cmd->add_option("--models", args->models, "comma-separated models the key may use (default: all)");
  cmd->add_option("--expires", args->expires, "YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (UTC)");
  cmd->callback([args] { set_action([args] { return run_create(*args); }); });
}

void add_list(CLI::App& keys) {
  auto* cmd = keys.add_subcommand("list", "List API keys (never their secrets)");
  struct Args {
    std::string db;
    bool all = false, json = false;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("--db", args->db, "SQLite file or postgresql:// URL");
  cmd->add_flag("--all", args->all, "include revoked keys");
  cmd->add_flag("--json", args->json, "print JSON (as GET /v1/admin/keys does)");
  cmd->callback([args] {
    set_action([args] {
      auto store = open_store(args->db);
      const auto keys = list_keys(*store, args->all);
      if (args->json) {
        std::printf("%s\n", keys_json(keys).c_str());
      } else {
        print_keys_table(keys);
      }
      return 0;
    });
  });
}

void add_revoke_and_rotate(CLI::App& keys) {
  struct Args {
    std::string db, key;
  };
  auto revoke_args = std::make_shared<Args>();
  auto* revoke = keys.add_subcommand("revoke", "Revoke a key: its next request fails with 401");
  revoke->add_option("--db", revoke_args->db, "SQLite file or postgresql:// URL");
  revoke->add_option("key", revoke_args->key, "key id or name")->required();
  revoke->callback([revoke_args] {
    set_action([revoke_args] {
      auto store = open_store(revoke_args->db);
      const KeyRecord k = revoke_key(*store, revoke_args->key, system_now_us());
      std::printf("revoked key %s (%s)\n", k.id.c_str(), k.name.c_str());
      return 0;
    });
  });
  auto rotate_args = std::make_shared<Args>();
  auto* rotate = keys.add_subcommand("rotate", "Give a key a new secret; the old one stops working");
  rotate->add_option("--db", rotate_args->db, "SQLite file or postgresql:// URL");
  rotate->add_option("key", rotate_args->key, "key id or name")->required();
  rotate->callback([rotate_args] {
    set_action([rotate_args] {
      auto store = open_store(rotate_args->db);
      print_secret(rotate_key(*store, rotate_args->key), "rotated");
      return 0;
    });
  });
}
}  // namespace

void register_keys(CLI::App& app) {
  auto* keys = app.add_subcommand("keys", "Manage API keys: create, list, revoke, rotate");
  keys->require_subcommand(1);
  add_create(*keys);
  add_list(*keys);
  add_revoke_and_rotate(*keys);
}

}  // namespace moxie::cli
