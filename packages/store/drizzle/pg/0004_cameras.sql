CREATE TABLE "camera_metric_rollups" (
	"device_id" text NOT NULL,
	"camera" text NOT NULL,
	"minute" bigint NOT NULL,
	"samples" bigint NOT NULL,
	"fps_sum" double precision NOT NULL,
	"fps_min" double precision,
	"camera_fps_sum" double precision NOT NULL,
	"frames" bigint NOT NULL,
	"dropped" bigint NOT NULL,
	"skipped" bigint NOT NULL,
	"reconnects" bigint NOT NULL,
	"offline_samples" bigint NOT NULL,
	CONSTRAINT "camera_metric_rollups_device_id_camera_minute_pk" PRIMARY KEY("device_id","camera","minute")
);
--> statement-breakpoint
CREATE TABLE "camera_metrics" (
	"device_id" text NOT NULL,
	"seq" bigint NOT NULL,
	"camera" text NOT NULL,
	"ts" bigint NOT NULL,
	"state" text NOT NULL,
	"fps" double precision NOT NULL,
	"camera_fps" double precision NOT NULL,
	"frames" bigint NOT NULL,
	"dropped" bigint NOT NULL,
	"skipped" bigint NOT NULL,
	"reconnects" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "face_rollups" ADD COLUMN "camera" text DEFAULT '0' NOT NULL;--> statement-breakpoint
ALTER TABLE "face_rollups" DROP CONSTRAINT "face_rollups_device_id_minute_pk";--> statement-breakpoint
ALTER TABLE "face_rollups" ADD CONSTRAINT "face_rollups_device_id_camera_minute_pk" PRIMARY KEY("device_id","camera","minute");--> statement-breakpoint
ALTER TABLE "alerts" ADD COLUMN "camera" text;--> statement-breakpoint
ALTER TABLE "face_windows" ADD COLUMN "camera" text DEFAULT '0' NOT NULL;--> statement-breakpoint
ALTER TABLE "metrics" ADD COLUMN "batch_mean_size" double precision;--> statement-breakpoint
CREATE UNIQUE INDEX "camera_metrics_device_seq_camera" ON "camera_metrics" USING btree ("device_id","seq","camera");--> statement-breakpoint
CREATE INDEX "camera_metrics_device_camera_ts" ON "camera_metrics" USING btree ("device_id","camera","ts");--> statement-breakpoint
CREATE INDEX "face_windows_device_camera_start" ON "face_windows" USING btree ("device_id","camera","start");