module github.com/gonbd/gonbd/filters/pause

go 1.24.0
