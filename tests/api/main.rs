//! The single integration-test binary: every test talks to real PostgreSQL + PostGIS over a
//! fresh database, and to the application over real HTTP or through the real binary.

mod helpers;

mod accounts_auth;
mod accounts_otp;
mod accounts_users;
mod cli_db;
mod cli_settings;
mod cli_users;
mod client_compat;
mod compression;
mod console_browser;
mod console_forms;
mod deploy_compose;
mod deploy_metrics;
mod deploy_replicas;
mod deploy_two_instances;
mod domain_values;
mod exports_dataset;
mod exports_dataset_s3;
mod foundation;
mod hardening_faults;
mod hardening_media;
mod hardening_security;
mod hardening_server;
mod hardening_uploads;
mod jobs_cli;
mod jobs_dataset;
mod jobs_queue;
mod jobs_tasks;
mod maintenance;
mod openapi_constraints;
mod ops_backup;
mod ops_rotation;
mod ops_storage;
mod production_parity;
mod rbac;
mod records_bbox_grid;
mod records_categories;
mod records_crud;
mod records_list_cache;
mod records_upload;
mod schema;
mod serve;
mod statistics;
mod takeover;
