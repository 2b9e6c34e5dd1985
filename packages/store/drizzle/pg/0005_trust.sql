CREATE TABLE "device_certificates" (
	"fingerprint" text PRIMARY KEY NOT NULL,
	"device_id" text NOT NULL,
	"serial" text NOT NULL,
	"not_before" bigint NOT NULL,
	"not_after" bigint NOT NULL,
	"created_at" bigint NOT NULL,
	"revoked_at" bigint
);
--> statement-breakpoint
CREATE TABLE "revoked_sessions" (
	"id" text PRIMARY KEY NOT NULL,
	"expires_at" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "engines" ADD COLUMN "version" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "device_certificates_device" ON "device_certificates" USING btree ("device_id");--> statement-breakpoint
-- Engines uploaded before versions existed: their upload time orders them.
UPDATE "engines" SET "version" = "created_at";
