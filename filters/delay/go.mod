module github.com/gonbd/gonbd/filters/delay

go 1.24.0
