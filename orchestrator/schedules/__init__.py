"""Scheduled fleets: a ``fleet_backup`` command template submitted at each occurrence of an RRULE in a
time zone, under a command id derived from the schedule and the occurrence (see docs/schedules.md)."""
