module github.com/gonbd/gonbd/filters/noextents

go 1.24.0
