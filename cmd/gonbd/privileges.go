package main

import (
	"fmt"
	"os/user"
	"strconv"
)

// lookupUser returns the user ID of -u USER, a name or a number, as nbdkit takes it.
func lookupUser(name string) (int, error) {
	if id, err := strconv.Atoi(name); err == nil && id >= 0 {
		return id, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return 0, fmt.Errorf("-u %s: %w", name, err)
	}
	id, err := strconv.Atoi(u.Uid)
	if err != nil {
		return 0, fmt.Errorf("-u %s: user ID %q is not a number on this system", name, u.Uid)
	}
	return id, nil
}

// lookupGroup returns the group ID of -g GROUP, a name or a number.
func lookupGroup(name string) (int, error) {
	if id, err := strconv.Atoi(name); err == nil && id >= 0 {
		return id, nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, fmt.Errorf("-g %s: %w", name, err)
	}
	id, err := strconv.Atoi(g.Gid)
	if err != nil {
		return 0, fmt.Errorf("-g %s: group ID %q is not a number on this system", name, g.Gid)
	}
	return id, nil
}

// identity is the user and group the server runs as after it listens (-u, -g); -1
// keeps the current one.
type identity struct{ uid, gid int }

func lookupIdentity(userName, groupName string) (identity, error) {
	id := identity{uid: -1, gid: -1}
	var err error
	if userName != "" {
		if id.uid, err = lookupUser(userName); err != nil {
			return id, err
		}
	}
	if groupName != "" {
		if id.gid, err = lookupGroup(groupName); err != nil {
			return id, err
		}
	}
	return id, nil
}
