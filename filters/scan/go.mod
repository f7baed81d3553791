module github.com/gonbd/gonbd/filters/scan

go 1.24.0
