-- How many resources a fleet's child backs up, written when the fleet spawns it. A fleet's sizes, its
-- resources' positions and the pages of them are summed from this column, without reading every child's
-- command (a fleet of 100,000 resources holds 400 of them); a child spawned before it has NULL and is
-- read from its command as before.
ALTER TABLE workflows ADD COLUMN resources_count integer;
