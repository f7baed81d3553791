module github.com/gonbd/gonbd/filters/nozero

go 1.24.0
