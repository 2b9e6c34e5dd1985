CREATE TABLE `will_excuses` (
	`device_id` text NOT NULL,
	`seq` integer NOT NULL,
	PRIMARY KEY(`device_id`, `seq`)
);
--> statement-breakpoint
ALTER TABLE `devices` ADD `seq_first` integer;--> statement-breakpoint
ALTER TABLE `devices` ADD `seq_last` integer;--> statement-breakpoint
ALTER TABLE `devices` ADD `seq_stored` integer DEFAULT 0 NOT NULL;