// airhealctl user add | remove | list: the registry's users file (HTTP Basic over TLS).
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands/command.hpp"
#include "core/oci.hpp"
#include "registry/auth.hpp"

namespace airheal::cli {
namespace {

class UserCommands : public CommandGroup {
 public:
  void add(CLI::App& app) override {
    user_ = app.add_subcommand("user", "registry users (HTTP Basic over TLS)");
    user_->require_subcommand(1);
    add_ = user_->add_subcommand(
        "add", "add a user or change a password and rights; reads the password from stdin");
    add_->add_option("name", name_)->required();
    add_->add_option(
        "--pull", pull_,
        "repository pattern the user may pull from (\"apps/*\", \"*\"); repeatable; default \"*\"");
    add_->add_option("--push", push_,
                     "repository pattern the user may push to; repeatable; default: none");
    add_->add_option("--delete", delete_,
                     "repository pattern the user may delete in; repeatable; default: none");
    add_->add_option("--role", roles_,
                     "viewer (default), operator (heal, hold, roll back, export), approver "
                     "(approve heals), security-admin (exceptions, VEX, trust); repeatable");
    add_->add_flag("--api-write", api_write_,
                   "the roles operator, approver and security-admin (older spelling)");
    add_->add_flag("--no-password", no_password_,
                   "a user who acts only through airhealctl on this host (a Unix user mapped to "
                   "it in auth.local_users); HTTP Basic never accepts it");
    remove_ = user_->add_subcommand("remove", "remove a user");
    remove_->add_option("name", name_)->required();
    list_ = user_->add_subcommand("list", "list users");
  }
  bool given() const override { return user_->parsed(); }
  int run(const Context& ctx) override {
    auto path = ctx.cfg.users_file();
    auto users = registry::UserFile::load(path);
    if (!users) return fail(users.error().message, 2);
    if (list_->parsed()) {
      if (ctx.json) {
        nlohmann::json a = nlohmann::json::array();
        for (const auto& [u, h] : users->users()) {
          auto r = users->rights(u);
          a.push_back({{"name", u},
                       {"pull", r.pull},
                       {"push", r.push},
                       {"delete", r.del},
                       {"api_write", r.api_write},
                       {"roles", r.roles}});
        }
        std::cout << a.dump(2) << "\n";
      } else {
        for (const auto& [u, h] : users->users())
          std::cout << u << "  " << users->rights(u).str() << "\n";
      }
      return 0;
    }
    if (!registry::UserFile::valid_user_name(name_))
      return fail("user names are 1-64 characters of letters, digits, '.', '_' and '-'", 2);
    bool removing = remove_->parsed();
    if (removing) {
      if (!users->users().erase(name_)) return fail("no user '" + name_ + "'", 1);
    } else {
      std::string password;
      if (!no_password_) {
        if (::isatty(0)) std::cerr << "password for " << name_ << ": " << std::flush;
        std::getline(std::cin, password);
        if (password.size() < 8) return fail("passwords must have at least 8 characters", 2);
      }
      for (const auto* list : {&pull_, &push_, &delete_})
        for (const auto& p : *list)
          if (!oci::is_valid_repository_pattern(p))
            return fail("repository pattern '" + p + "' may hold a-z 0-9 . _ - / * ? only", 2);
      registry::Rights rights;
      rights.pull = pull_.empty() ? std::vector<std::string>{"*"} : pull_;  // pull-only by default
      rights.push = push_;
      rights.del = delete_;
      for (const auto& role : roles_)
        if (!registry::valid_role(role))
          return fail("unknown role '" + role + "' (viewer, operator, approver, security-admin)",
                      2);
      std::string spec = "roles=";
      for (const auto& role : roles_) spec += role + ",";
      if (api_write_) spec += "operator,approver,security-admin";
      rights.roles = registry::Rights::parse(spec)->roles;
      rights.api_write = !rights.roles.empty();
      users->users()[name_] =
          no_password_ ? std::string("!") : registry::UserFile::hash_password(password);
      users->set_rights(name_, rights);
    }
    if (!use_state_owner(ctx)) return 2;
    std::filesystem::create_directories(path.parent_path().empty() ? "." : path.parent_path());
    if (auto st = users->save(path); !st) return fail(st.error().message, 1);
    std::cout << (removing ? "removed " : "saved ") << name_
              << (removing ? std::string() : " (" + users->rights(name_).str() + ")") << " in "
              << path.string() << " (restart airheald to apply)\n";
    return 0;
  }

 private:
  CLI::App *user_ = nullptr, *add_ = nullptr, *remove_ = nullptr, *list_ = nullptr;
  std::string name_;
  std::vector<std::string> pull_, push_, delete_, roles_;
  bool api_write_ = false, no_password_ = false;
};

}  // namespace

std::unique_ptr<CommandGroup> user_commands() { return std::make_unique<UserCommands>(); }

}  // namespace airheal::cli
