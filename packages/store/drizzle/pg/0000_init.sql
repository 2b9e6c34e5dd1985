CREATE TABLE "alert_rules" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"threshold" double precision NOT NULL,
	"for_s" double precision NOT NULL,
	"severity" text NOT NULL,
	"selector" text NOT NULL,
	"webhook_url" text,
	"enabled" boolean DEFAULT true NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "alerts" (
	"id" text PRIMARY KEY NOT NULL,
	"rule_id" text NOT NULL,
	"device_id" text NOT NULL,
	"kind" text NOT NULL,
	"state" text NOT NULL,
	"severity" text NOT NULL,
	"message" text NOT NULL,
	"value" double precision,
	"threshold" double precision,
	"fired_at" bigint NOT NULL,
	"resolved_at" bigint
);
--> statement-breakpoint
CREATE TABLE "api_tokens" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"role" text NOT NULL,
	"hash" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "devices" (
	"id" text PRIMARY KEY NOT NULL,
	"device_class" text NOT NULL,
	"tags" text DEFAULT '[]' NOT NULL,
	"token_hash" text NOT NULL,
	"created_at" bigint NOT NULL,
	"last_seen" bigint,
	"state" text,
	"status_json" text,
	"engine_id" text,
	"engine_sha256" text,
	"power_mode" text,
	"reported_json" text,
	"desired_rev" bigint DEFAULT 0 NOT NULL,
	"desired_json" text
);
--> statement-breakpoint
CREATE TABLE "engine_benchmarks" (
	"engine_id" text NOT NULL,
	"device_id" text NOT NULL,
	"infer_fps" double precision NOT NULL,
	"latency_p50" double precision NOT NULL,
	"latency_p95" double precision NOT NULL,
	"latency_p99" double precision NOT NULL,
	"trt_version" text,
	"ts" bigint NOT NULL,
	CONSTRAINT "engine_benchmarks_engine_id_device_id_pk" PRIMARY KEY("engine_id","device_id")
);
--> statement-breakpoint
CREATE TABLE "engines" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"model" text NOT NULL,
	"backend" text NOT NULL,
	"format" text NOT NULL,
	"device_class" text NOT NULL,
	"trt_version" text,
	"precision" text NOT NULL,
	"input_dims" text NOT NULL,
	"sha256" text NOT NULL,
	"size" bigint NOT NULL,
	"signature" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "face_rollups" (
	"device_id" text NOT NULL,
	"minute" bigint NOT NULL,
	"windows" bigint NOT NULL,
	"frames" bigint NOT NULL,
	"max_faces" bigint NOT NULL,
	"mean_sum" double precision NOT NULL,
	CONSTRAINT "face_rollups_device_id_minute_pk" PRIMARY KEY("device_id","minute")
);
--> statement-breakpoint
CREATE TABLE "face_windows" (
	"device_id" text NOT NULL,
	"seq" bigint NOT NULL,
	"ts" bigint NOT NULL,
	"start" bigint NOT NULL,
	"end" bigint NOT NULL,
	"frames" bigint NOT NULL,
	"last" bigint NOT NULL,
	"min" bigint NOT NULL,
	"max" bigint NOT NULL,
	"mean" double precision NOT NULL,
	"boxes" text,
	"received_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "metric_rollups" (
	"device_id" text NOT NULL,
	"minute" bigint NOT NULL,
	"samples" bigint NOT NULL,
	"fps_sum" double precision NOT NULL,
	"fps_min" double precision,
	"infer_fps_sum" double precision NOT NULL,
	"latency_p95_max" double precision,
	"temp_max_c" double precision,
	CONSTRAINT "metric_rollups_device_id_minute_pk" PRIMARY KEY("device_id","minute")
);
--> statement-breakpoint
CREATE TABLE "metrics" (
	"device_id" text NOT NULL,
	"seq" bigint NOT NULL,
	"ts" bigint NOT NULL,
	"interval_s" double precision NOT NULL,
	"fps" double precision,
	"infer_fps" double precision,
	"latency_p50" double precision,
	"latency_p95" double precision,
	"latency_p99" double precision,
	"frames" bigint,
	"dropped" bigint,
	"gpu_pct" double precision,
	"ram_used_mb" double precision,
	"temp_max_c" double precision,
	"temps" text NOT NULL,
	"power_mode" text,
	"device_class" text NOT NULL,
	"received_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "reported_history" (
	"device_id" text NOT NULL,
	"seq" bigint NOT NULL,
	"ts" bigint NOT NULL,
	"rev" bigint NOT NULL,
	"update_state" text NOT NULL,
	"engine_id" text,
	"rollout_id" text,
	"reason" text,
	"json" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rollout_targets" (
	"rollout_id" text NOT NULL,
	"device_id" text NOT NULL,
	"stage" text NOT NULL,
	"state" text NOT NULL,
	"previous_engine_id" text,
	"rev" bigint,
	"reason" text,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "rollout_targets_rollout_id_device_id_pk" PRIMARY KEY("rollout_id","device_id")
);
--> statement-breakpoint
CREATE TABLE "rollouts" (
	"id" text PRIMARY KEY NOT NULL,
	"engine_id" text NOT NULL,
	"selector" text NOT NULL,
	"canary_share" double precision NOT NULL,
	"hold_s" double precision NOT NULL,
	"failure_limit" bigint NOT NULL,
	"min_fps_ratio" double precision NOT NULL,
	"gate_hold_s" double precision NOT NULL,
	"state" text NOT NULL,
	"paused_from" text,
	"canary_done_at" bigint,
	"reason" text,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "status_history" (
	"device_id" text NOT NULL,
	"seq" bigint NOT NULL,
	"ts" bigint NOT NULL,
	"state" text NOT NULL,
	"reason" text
);
--> statement-breakpoint
CREATE TABLE "subscriber_tokens" (
	"name" text PRIMARY KEY NOT NULL,
	"hash" text NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE INDEX "alerts_rule_device" ON "alerts" USING btree ("rule_id","device_id");--> statement-breakpoint
CREATE UNIQUE INDEX "face_windows_device_seq" ON "face_windows" USING btree ("device_id","seq");--> statement-breakpoint
CREATE INDEX "face_windows_device_start" ON "face_windows" USING btree ("device_id","start");--> statement-breakpoint
CREATE UNIQUE INDEX "metrics_device_seq" ON "metrics" USING btree ("device_id","seq");--> statement-breakpoint
CREATE INDEX "metrics_device_ts" ON "metrics" USING btree ("device_id","ts");--> statement-breakpoint
CREATE UNIQUE INDEX "reported_device_seq" ON "reported_history" USING btree ("device_id","seq");--> statement-breakpoint
CREATE UNIQUE INDEX "status_device_seq" ON "status_history" USING btree ("device_id","seq");