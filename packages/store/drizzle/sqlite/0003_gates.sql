CREATE TABLE `engine_accuracy` (
	`engine_id` text NOT NULL,
	`device_id` text NOT NULL,
	`ap` real NOT NULL,
	`previous_engine_id` text,
	`previous_ap` real,
	`tolerance_ap` real NOT NULL,
	`ap_mode` text NOT NULL,
	`iou` real NOT NULL,
	`images` integer NOT NULL,
	`eval_s` real NOT NULL,
	`previous_eval_s` real,
	`ts` integer NOT NULL,
	PRIMARY KEY(`engine_id`, `device_id`)
);
--> statement-breakpoint
ALTER TABLE `engines` ADD `dla_core` integer;--> statement-breakpoint
ALTER TABLE `rollout_targets` ADD `gate_json` text;--> statement-breakpoint
ALTER TABLE `rollouts` ADD `ap_tolerance` real DEFAULT 1 NOT NULL;