CREATE TABLE "engine_accuracy" (
	"engine_id" text NOT NULL,
	"device_id" text NOT NULL,
	"ap" double precision NOT NULL,
	"previous_engine_id" text,
	"previous_ap" double precision,
	"tolerance_ap" double precision NOT NULL,
	"ap_mode" text NOT NULL,
	"iou" double precision NOT NULL,
	"images" bigint NOT NULL,
	"eval_s" double precision NOT NULL,
	"previous_eval_s" double precision,
	"ts" bigint NOT NULL,
	CONSTRAINT "engine_accuracy_engine_id_device_id_pk" PRIMARY KEY("engine_id","device_id")
);
--> statement-breakpoint
ALTER TABLE "engines" ADD COLUMN "dla_core" bigint;--> statement-breakpoint
ALTER TABLE "rollout_targets" ADD COLUMN "gate_json" text;--> statement-breakpoint
ALTER TABLE "rollouts" ADD COLUMN "ap_tolerance" double precision DEFAULT 1 NOT NULL;