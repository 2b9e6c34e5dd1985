CREATE TABLE `alert_rules` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`threshold` real NOT NULL,
	`for_s` real NOT NULL,
	`severity` text NOT NULL,
	`selector` text NOT NULL,
	`webhook_url` text,
	`enabled` integer DEFAULT true NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `alerts` (
	`id` text PRIMARY KEY NOT NULL,
	`rule_id` text NOT NULL,
	`device_id` text NOT NULL,
	`kind` text NOT NULL,
	`state` text NOT NULL,
	`severity` text NOT NULL,
	`message` text NOT NULL,
	`value` real,
	`threshold` real,
	`fired_at` integer NOT NULL,
	`resolved_at` integer
);
--> statement-breakpoint
CREATE INDEX `alerts_rule_device` ON `alerts` (`rule_id`,`device_id`);--> statement-breakpoint
CREATE TABLE `api_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`role` text NOT NULL,
	`hash` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `devices` (
	`id` text PRIMARY KEY NOT NULL,
	`device_class` text NOT NULL,
	`tags` text DEFAULT '[]' NOT NULL,
	`token_hash` text NOT NULL,
	`created_at` integer NOT NULL,
	`last_seen` integer,
	`state` text,
	`status_json` text,
	`engine_id` text,
	`engine_sha256` text,
	`power_mode` text,
	`reported_json` text,
	`desired_rev` integer DEFAULT 0 NOT NULL,
	`desired_json` text
);
--> statement-breakpoint
CREATE TABLE `engine_benchmarks` (
	`engine_id` text NOT NULL,
	`device_id` text NOT NULL,
	`infer_fps` real NOT NULL,
	`latency_p50` real NOT NULL,
	`latency_p95` real NOT NULL,
	`latency_p99` real NOT NULL,
	`trt_version` text,
	`ts` integer NOT NULL,
	PRIMARY KEY(`engine_id`, `device_id`)
);
--> statement-breakpoint
CREATE TABLE `engines` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`model` text NOT NULL,
	`backend` text NOT NULL,
	`format` text NOT NULL,
	`device_class` text NOT NULL,
	`trt_version` text,
	`precision` text NOT NULL,
	`input_dims` text NOT NULL,
	`sha256` text NOT NULL,
	`size` integer NOT NULL,
	`signature` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `face_rollups` (
	`device_id` text NOT NULL,
	`minute` integer NOT NULL,
	`windows` integer NOT NULL,
	`frames` integer NOT NULL,
	`max_faces` integer NOT NULL,
	`mean_sum` real NOT NULL,
	PRIMARY KEY(`device_id`, `minute`)
);
--> statement-breakpoint
CREATE TABLE `face_windows` (
	`device_id` text NOT NULL,
	`seq` integer NOT NULL,
	`ts` integer NOT NULL,
	`start` integer NOT NULL,
	`end` integer NOT NULL,
	`frames` integer NOT NULL,
	`last` integer NOT NULL,
	`min` integer NOT NULL,
	`max` integer NOT NULL,
	`mean` real NOT NULL,
	`boxes` text,
	`received_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `face_windows_device_seq` ON `face_windows` (`device_id`,`seq`);--> statement-breakpoint
CREATE INDEX `face_windows_device_start` ON `face_windows` (`device_id`,`start`);--> statement-breakpoint
CREATE TABLE `metric_rollups` (
	`device_id` text NOT NULL,
	`minute` integer NOT NULL,
	`samples` integer NOT NULL,
	`fps_sum` real NOT NULL,
	`fps_min` real,
	`infer_fps_sum` real NOT NULL,
	`latency_p95_max` real,
	`temp_max_c` real,
	PRIMARY KEY(`device_id`, `minute`)
);
--> statement-breakpoint
CREATE TABLE `metrics` (
	`device_id` text NOT NULL,
	`seq` integer NOT NULL,
	`ts` integer NOT NULL,
	`interval_s` real NOT NULL,
	`fps` real,
	`infer_fps` real,
	`latency_p50` real,
	`latency_p95` real,
	`latency_p99` real,
	`frames` integer,
	`dropped` integer,
	`gpu_pct` real,
	`ram_used_mb` real,
	`temp_max_c` real,
	`temps` text NOT NULL,
	`power_mode` text,
	`device_class` text NOT NULL,
	`received_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `metrics_device_seq` ON `metrics` (`device_id`,`seq`);--> statement-breakpoint
CREATE INDEX `metrics_device_ts` ON `metrics` (`device_id`,`ts`);--> statement-breakpoint
CREATE TABLE `reported_history` (
	`device_id` text NOT NULL,
	`seq` integer NOT NULL,
	`ts` integer NOT NULL,
	`rev` integer NOT NULL,
	`update_state` text NOT NULL,
	`engine_id` text,
	`rollout_id` text,
	`reason` text,
	`json` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `reported_device_seq` ON `reported_history` (`device_id`,`seq`);--> statement-breakpoint
CREATE TABLE `rollout_targets` (
	`rollout_id` text NOT NULL,
	`device_id` text NOT NULL,
	`stage` text NOT NULL,
	`state` text NOT NULL,
	`previous_engine_id` text,
	`rev` integer,
	`reason` text,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`rollout_id`, `device_id`)
);
--> statement-breakpoint
CREATE TABLE `rollouts` (
	`id` text PRIMARY KEY NOT NULL,
	`engine_id` text NOT NULL,
	`selector` text NOT NULL,
	`canary_share` real NOT NULL,
	`hold_s` real NOT NULL,
	`failure_limit` integer NOT NULL,
	`min_fps_ratio` real NOT NULL,
	`gate_hold_s` real NOT NULL,
	`state` text NOT NULL,
	`paused_from` text,
	`canary_done_at` integer,
	`reason` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `status_history` (
	`device_id` text NOT NULL,
	`seq` integer NOT NULL,
	`ts` integer NOT NULL,
	`state` text NOT NULL,
	`reason` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `status_device_seq` ON `status_history` (`device_id`,`seq`);--> statement-breakpoint
CREATE TABLE `subscriber_tokens` (
	`name` text PRIMARY KEY NOT NULL,
	`hash` text NOT NULL,
	`created_at` integer NOT NULL
);
