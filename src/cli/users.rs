//! `corpus users ...`: the original's `manage_user_roles.py`, with real exit codes.
//!
//! A user is named by e-mail or phone (e-mail is tried first). `assign-*` replaces the user's
//! roles, `add-*` adds to them; repeated role names are ignored. Every error exits non-zero.

use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Subcommand;

use crate::{
    auth::password,
    config::Config,
    db::{
        accounts::{self, UserRecord},
        users,
    },
    domain::{RoleName, normalize_phone},
};

/// User and role commands.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// List every user with their roles.
    #[command(alias = "list-users")]
    List,
    /// List the roles.
    ListRoles,
    /// Find a user by phone or e-mail.
    #[command(alias = "find-user")]
    Find {
        /// Phone number (raw or E.164).
        #[arg(long, required_unless_present = "email")]
        phone: Option<String>,
        /// E-mail address.
        #[arg(long)]
        email: Option<String>,
    },
    /// Replace the user's roles with one role.
    AssignRole {
        /// E-mail or phone.
        user: String,
        /// Role name.
        #[arg(value_enum)]
        role: RoleName,
    },
    /// Replace the user's roles with the given set.
    #[command(alias = "assign-multiple-roles")]
    AssignRoles {
        /// E-mail or phone.
        user: String,
        /// Role names.
        #[arg(value_enum, required = true, num_args = 1..)]
        roles: Vec<RoleName>,
    },
    /// Add one role, keeping the others.
    AddRole {
        /// E-mail or phone.
        user: String,
        /// Role name.
        #[arg(value_enum)]
        role: RoleName,
    },
    /// Add several roles, keeping the others.
    #[command(alias = "add-multiple-roles")]
    AddRoles {
        /// E-mail or phone.
        user: String,
        /// Role names.
        #[arg(value_enum, required = true, num_args = 1..)]
        roles: Vec<RoleName>,
    },
    /// Remove one role.
    RemoveRole {
        /// E-mail or phone.
        user: String,
        /// Role name.
        #[arg(value_enum)]
        role: RoleName,
    },
    /// Remove every role.
    ClearRoles {
        /// E-mail or phone.
        user: String,
    },
    /// Create an active admin account (the first admin of an installation).
    CreateAdmin {
        /// Phone number; stored in E.164 (default country India).
        #[arg(long)]
        phone: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Password (6-100 characters); without one the admin signs in by OTP.
        #[arg(long, env = "CORPUS_ADMIN_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
}

/// Runs a users command.
pub async fn run(config: &Config, command: UsersCommand) -> anyhow::Result<ExitCode> {
    let pool = super::connect(config).await?;
    let result = execute(&pool, command).await;
    pool.close().await;
    result.map(|()| ExitCode::SUCCESS)
}

async fn execute(pool: &sqlx::PgPool, command: UsersCommand) -> anyhow::Result<()> {
    match command {
        UsersCommand::List => {
            let all = accounts::list_users(pool, 0, i64::MAX).await?;
            if all.is_empty() {
                println!("No users found in the database.");
            }
            for user in all {
                let roles = role_names(pool, user.id).await?;
                print_user(&user, &roles);
                println!("{}", "-".repeat(60));
            }
        }
        UsersCommand::ListRoles => {
            for role in accounts::list_roles(pool).await? {
                println!("{:>3}  {:<9} {}", role.id, role.name, role.description.unwrap_or_default());
            }
        }
        UsersCommand::Find { phone, email } => {
            let found = match (&phone, &email) {
                (Some(p), _) => accounts::user_by_phone(pool, p).await?,
                (None, Some(e)) => accounts::user_by_email(pool, e).await?,
                (None, None) => bail!("give --phone or --email"),
            };
            let Some(user) = found else {
                bail!(
                    "no user found with {}",
                    phone.map(|p| format!("phone {p}")).or(email.map(|e| format!("email {e}"))).unwrap_or_default()
                );
            };
            let roles = role_names(pool, user.id).await?;
            print_user(&user, &roles);
        }
        UsersCommand::AssignRole { user, role } => assign(pool, &user, &[role]).await?,
        UsersCommand::AssignRoles { user, roles } => assign(pool, &user, &roles).await?,
        UsersCommand::AddRole { user, role } => add(pool, &user, &[role]).await?,
        UsersCommand::AddRoles { user, roles } => add(pool, &user, &roles).await?,
        UsersCommand::RemoveRole { user, role } => {
            let user = find(pool, &user).await?;
            let ids = role_ids(pool, &[role]).await?;
            if users::remove_role(pool, user.id, ids[0]).await? {
                println!("removed role '{role}' from {}", user.name);
            } else {
                println!("{} does not have role '{role}'", user.name);
            }
        }
        UsersCommand::ClearRoles { user } => {
            let user = find(pool, &user).await?;
            let n = users::clear_roles(pool, user.id).await?;
            println!("removed {n} role(s) from {}", user.name);
        }
        UsersCommand::CreateAdmin { phone, name, password } => {
            let phone = normalize_phone(&phone).map_err(|e| anyhow::anyhow!("{e}: {phone}"))?;
            let name = name.trim().to_owned();
            if name.is_empty() || name.chars().count() > 100 {
                bail!("the name must have 1 to 100 characters");
            }
            if accounts::user_by_phone(pool, &phone).await?.is_some() {
                bail!("a user with phone {phone} already exists: use `corpus users add-role {phone} admin`");
            }
            let hash = match password {
                Some(p) if (6..=100).contains(&p.chars().count()) => Some(password::hash(p).await?),
                Some(_) => bail!("the password must have 6 to 100 characters"),
                None => None,
            };
            let ids = role_ids(pool, &[RoleName::Admin, RoleName::User]).await?;
            let id = users::create_with_roles(pool, &phone, &name, hash.as_deref(), &ids).await?;
            println!("created admin {name} ({phone}) with id {id}");
        }
    }
    Ok(())
}

async fn assign(pool: &sqlx::PgPool, who: &str, roles: &[RoleName]) -> anyhow::Result<()> {
    let user = find(pool, who).await?;
    let ids = role_ids(pool, roles).await?;
    let mut tx = pool.begin().await?;
    let removed = users::replace_roles(&mut tx, user.id, &ids).await?;
    tx.commit().await?;
    println!("assigned {} to {} (replaced {removed} role link(s))", join(roles), user.name);
    Ok(())
}

async fn add(pool: &sqlx::PgPool, who: &str, roles: &[RoleName]) -> anyhow::Result<()> {
    let user = find(pool, who).await?;
    let ids = role_ids(pool, roles).await?;
    let added = users::add_roles(pool, user.id, &ids).await?;
    if added == 0 {
        println!("{} already has {}", user.name, join(roles));
    } else {
        println!("added {added} role(s) to {}; roles now: {}", user.name, role_names(pool, user.id).await?.join(", "));
    }
    Ok(())
}

async fn find(pool: &sqlx::PgPool, who: &str) -> anyhow::Result<UserRecord> {
    users::find_by_identifier(pool, who).await?.with_context(|| format!("user not found: {who}"))
}

async fn role_ids(pool: &sqlx::PgPool, roles: &[RoleName]) -> anyhow::Result<Vec<i32>> {
    let mut unique = roles.to_vec();
    unique.sort_by_key(|r| r.as_str());
    unique.dedup();
    match users::role_ids(pool, &unique).await? {
        Ok(ids) => Ok(ids),
        Err(missing) => bail!("role(s) not found in the database: {}", join(&missing)),
    }
}

async fn role_names(pool: &sqlx::PgPool, user_id: uuid::Uuid) -> anyhow::Result<Vec<String>> {
    Ok(accounts::roles_of(pool, user_id).await?.into_iter().map(|r| r.name).collect())
}

fn join(roles: &[RoleName]) -> String {
    roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
}

fn print_user(user: &UserRecord, roles: &[String]) {
    println!("{}", user.email.as_deref().unwrap_or("No email"));
    println!("   Phone:  {}", user.phone);
    println!("   Name:   {}", user.name);
    println!("   Roles:  {}", if roles.is_empty() { "No roles assigned".to_owned() } else { roles.join(", ") });
    println!("   Active: {}", user.is_active);
    println!("   ID:     {}", user.id);
}
