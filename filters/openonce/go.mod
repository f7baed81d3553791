module github.com/gonbd/gonbd/filters/openonce

go 1.24.0
