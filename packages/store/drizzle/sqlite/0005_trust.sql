CREATE TABLE `device_certificates` (
	`fingerprint` text PRIMARY KEY NOT NULL,
	`device_id` text NOT NULL,
	`serial` text NOT NULL,
	`not_before` integer NOT NULL,
	`not_after` integer NOT NULL,
	`created_at` integer NOT NULL,
	`revoked_at` integer
);
--> statement-breakpoint
CREATE INDEX `device_certificates_device` ON `device_certificates` (`device_id`);--> statement-breakpoint
CREATE TABLE `revoked_sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `engines` ADD `version` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- Engines uploaded before versions existed: their upload time orders them.
UPDATE `engines` SET `version` = `created_at`;
