CREATE TABLE "will_excuses" (
	"device_id" text NOT NULL,
	"seq" bigint NOT NULL,
	CONSTRAINT "will_excuses_device_id_seq_pk" PRIMARY KEY("device_id","seq")
);
--> statement-breakpoint
ALTER TABLE "devices" ADD COLUMN "seq_first" bigint;--> statement-breakpoint
ALTER TABLE "devices" ADD COLUMN "seq_last" bigint;--> statement-breakpoint
ALTER TABLE "devices" ADD COLUMN "seq_stored" bigint DEFAULT 0 NOT NULL;