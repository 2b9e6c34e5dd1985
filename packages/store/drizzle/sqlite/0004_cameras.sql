CREATE TABLE `camera_metric_rollups` (
	`device_id` text NOT NULL,
	`camera` text NOT NULL,
	`minute` integer NOT NULL,
	`samples` integer NOT NULL,
	`fps_sum` real NOT NULL,
	`fps_min` real,
	`camera_fps_sum` real NOT NULL,
	`frames` integer NOT NULL,
	`dropped` integer NOT NULL,
	`skipped` integer NOT NULL,
	`reconnects` integer NOT NULL,
	`offline_samples` integer NOT NULL,
	PRIMARY KEY(`device_id`, `camera`, `minute`)
);
--> statement-breakpoint
CREATE TABLE `camera_metrics` (
	`device_id` text NOT NULL,
	`seq` integer NOT NULL,
	`camera` text NOT NULL,
	`ts` integer NOT NULL,
	`state` text NOT NULL,
	`fps` real NOT NULL,
	`camera_fps` real NOT NULL,
	`frames` integer NOT NULL,
	`dropped` integer NOT NULL,
	`skipped` integer NOT NULL,
	`reconnects` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `camera_metrics_device_seq_camera` ON `camera_metrics` (`device_id`,`seq`,`camera`);--> statement-breakpoint
CREATE INDEX `camera_metrics_device_camera_ts` ON `camera_metrics` (`device_id`,`camera`,`ts`);--> statement-breakpoint
PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_face_rollups` (
	`device_id` text NOT NULL,
	`camera` text DEFAULT '0' NOT NULL,
	`minute` integer NOT NULL,
	`windows` integer NOT NULL,
	`frames` integer NOT NULL,
	`max_faces` integer NOT NULL,
	`mean_sum` real NOT NULL,
	PRIMARY KEY(`device_id`, `camera`, `minute`)
);
--> statement-breakpoint
INSERT INTO `__new_face_rollups`("device_id", "camera", "minute", "windows", "frames", "max_faces", "mean_sum") SELECT "device_id", '0', "minute", "windows", "frames", "max_faces", "mean_sum" FROM `face_rollups`;--> statement-breakpoint
DROP TABLE `face_rollups`;--> statement-breakpoint
ALTER TABLE `__new_face_rollups` RENAME TO `face_rollups`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
ALTER TABLE `alerts` ADD `camera` text;--> statement-breakpoint
ALTER TABLE `face_windows` ADD `camera` text DEFAULT '0' NOT NULL;--> statement-breakpoint
CREATE INDEX `face_windows_device_camera_start` ON `face_windows` (`device_id`,`camera`,`start`);--> statement-breakpoint
ALTER TABLE `metrics` ADD `batch_mean_size` real;