!> Model time of the host program: CIME-style dates (ymd = yyyymmdd, tod = seconds of the
!! day) in the noleap calendar (the calendar of the forcing files), as whole seconds since
!! 0001-01-01 00:00 so that comparisons are exact, and CF time units.
module hmh_time
  use, intrinsic :: iso_fortran_env, only: int64
  implicit none
  private

  integer, parameter :: days_before_month(13) = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, &
       304, 334, 365]

  public :: to_seconds, from_seconds, day_of_year, valid_ymd, parse_time_units, date_string

contains

  !> Whole seconds since 0001-01-01 00:00 (noleap) of (ymd, tod).
  pure function to_seconds(ymd, tod) result(s)
    integer, intent(in) :: ymd   !! date yyyymmdd
    integer, intent(in) :: tod   !! seconds of the day
    integer(int64) :: s
    integer :: y, m, d
    y = ymd / 10000
    m = mod(ymd / 100, 100)
    d = mod(ymd, 100)
    s = (int(y - 1, int64) * 365_int64 + days_before_month(m) + d - 1) * 86400_int64 + tod
  end function to_seconds

  !> (ymd, tod) of whole seconds since 0001-01-01 00:00 (noleap).
  pure subroutine from_seconds(s, ymd, tod)
    integer(int64), intent(in) :: s   !! seconds since 0001-01-01
    integer, intent(out) :: ymd       !! date yyyymmdd
    integer, intent(out) :: tod       !! seconds of the day
    integer(int64) :: days
    integer :: y, doy, m
    days = s / 86400_int64
    tod = int(s - days * 86400_int64)
    y = int(days / 365_int64) + 1
    doy = int(days - int(y - 1, int64) * 365_int64)   ! 0-based
    m = 1
    do while (doy >= days_before_month(m + 1))
      m = m + 1
    end do
    ymd = y * 10000 + m * 100 + (doy - days_before_month(m) + 1)
  end subroutine from_seconds

  !> Day of the year (1..365) of a date.
  pure integer function day_of_year(ymd)
    integer, intent(in) :: ymd   !! date yyyymmdd
    day_of_year = days_before_month(mod(ymd / 100, 100)) + mod(ymd, 100)
  end function day_of_year

  !> Is ymd a valid noleap date?
  pure logical function valid_ymd(ymd)
    integer, intent(in) :: ymd   !! date yyyymmdd
    integer :: y, m, d
    y = ymd / 10000
    m = mod(ymd / 100, 100)
    d = mod(ymd, 100)
    valid_ymd = y >= 1 .and. m >= 1 .and. m <= 12
    if (valid_ymd) valid_ymd = d >= 1 .and. d <= days_before_month(m + 1) - days_before_month(m)
  end function valid_ymd

  !> "yyyy-mm-dd hh:mm:ss" of whole seconds since 0001-01-01.
  function date_string(s) result(str)
    integer(int64), intent(in) :: s   !! seconds since 0001-01-01
    character(len=19) :: str
    integer :: ymd, tod
    call from_seconds(s, ymd, tod)
    write (str, '(i4.4, "-", i2.2, "-", i2.2, 1x, i2.2, ":", i2.2, ":", i2.2)') ymd / 10000, &
         mod(ymd / 100, 100), mod(ymd, 100), tod / 3600, mod(tod / 60, 60), mod(tod, 60)
  end function date_string

  !> Parse CF units "<seconds|minutes|hours|days> since YYYY-MM-DD[ hh:mm[:ss]]".
  subroutine parse_time_units(units, factor, ref, message)
    character(len=*), intent(in) :: units          !! the units attribute
    real(kind(1.d0)), intent(out) :: factor        !! seconds per unit
    integer(int64), intent(out) :: ref             !! reference instant, seconds since 0001-01-01
    character(len=:), allocatable, intent(out) :: message  !! "" or the problem
    integer :: k, y, m, d, hh, mm, ss, ios
    character(len=64) :: unit_word, rest
    message = ""
    factor = 0
    ref = 0
    k = index(units, ' since ')
    if (k == 0) then
      message = "time units '"//trim(units)//"' are not '<unit> since <date>'"
      return
    end if
    unit_word = adjustl(units(:k - 1))
    select case (trim(unit_word))
    case ('seconds', 'second', 's')
      factor = 1
    case ('minutes', 'minute')
      factor = 60
    case ('hours', 'hour', 'h')
      factor = 3600
    case ('days', 'day', 'd')
      factor = 86400
    case default
      message = "time unit '"//trim(unit_word)//"' is not seconds, minutes, hours or days"
      return
    end select
    rest = adjustl(units(k + 7:))
    hh = 0
    mm = 0
    ss = 0
    do k = 1, len_trim(rest)
      if (rest(k:k) == '-' .or. rest(k:k) == ':' .or. rest(k:k) == 'T') rest(k:k) = ' '
    end do
    read (rest, *, iostat=ios) y, m, d, hh, mm, ss
    if (ios /= 0) then
      hh = 0
      mm = 0
      ss = 0
      read (rest, *, iostat=ios) y, m, d
    end if
    if (ios /= 0 .or. .not. valid_ymd(y * 10000 + m * 100 + d)) then
      message = "cannot read the reference date of time units '"//trim(units)//"'"
      return
    end if
    ref = to_seconds(y * 10000 + m * 100 + d, hh * 3600 + mm * 60 + ss)
  end subroutine parse_time_units

end module hmh_time
