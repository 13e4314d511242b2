-- Roles held through directory groups (from the governance policy, synchronised at start-up).
CREATE TABLE role_groups (
  role        text NOT NULL,
  group_name  text NOT NULL,
  PRIMARY KEY (role, group_name)
);
