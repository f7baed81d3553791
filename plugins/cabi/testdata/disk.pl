# A read-only 1 MiB disk of the letter P, for nbdkit's perl plugin.
sub open
{
    my $readonly = shift;
    return 1;
}

sub get_size
{
    return 1048576;
}

sub pread
{
    my ($h, $count, $offset) = @_;
    return "P" x $count;
}
