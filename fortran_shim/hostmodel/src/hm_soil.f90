!> ELM's 10-layer soil column and the soil's hydraulic and thermal properties.
!!
!! Layer structure (ELM/CLM4.5, Oleson et al. 2013 eq. 6.5-6.7): node depths
!! z_i = 0.025 (exp(0.5 (i - 0.5)) - 1) m, thicknesses dz_1 = 0.5 (z_1 + z_2),
!! dz_i = 0.5 (z_{i+1} - z_{i-1}), dz_N = z_N - z_{N-1}; interfaces zi_i = 0.5 (z_i + z_{i+1}),
!! zi_N = z_N + 0.5 dz_N. Hydraulics: Clapp & Hornberger (1978) with the Cosby et al. (1984)
!! pedotransfer functions of sand and clay percentages, as in CLM. Thermal properties:
!! Farouki (1981) / Johansen (1975) as in CLM4.5 section 6.3.
module hm_soil
  use hm_constants, only: dp, nlevsoi, tkwat, tkair, psi_min_m
  implicit none
  private

  !> Soil properties of one column (uniform texture with depth).
  type, public :: soil_props
    real(dp) :: watsat = 0.45_dp      !! porosity, volumetric water at saturation (m3 m-3)
    real(dp) :: sucsat = 0.2_dp       !! saturated matric suction, positive (m)
    real(dp) :: bsw = 5._dp           !! Clapp-Hornberger exponent b (-)
    real(dp) :: hksat = 1.e-5_dp      !! saturated hydraulic conductivity (m s-1)
    real(dp) :: watfc = 0.3_dp        !! volumetric water at field capacity, -3.4 m (m3 m-3)
    real(dp) :: csol = 2.2e6_dp       !! heat capacity of soil solids (J m-3 K-1)
    real(dp) :: tksol = 3._dp         !! thermal conductivity of soil solids (W m-1 K-1)
    real(dp) :: tkdry = 0.25_dp       !! thermal conductivity of dry soil (W m-1 K-1)
    real(dp) :: tksatu = 1.5_dp       !! thermal conductivity of saturated soil (W m-1 K-1)
  end type soil_props

  integer, private :: i_
  !> node depths (m): z_i = 0.025 (exp(0.5 (i - 0.5)) - 1)
  real(dp), parameter, public :: zsoi(nlevsoi) = &
       0.025_dp * (exp(0.5_dp * ([(real(i_, dp), i_ = 1, nlevsoi)] - 0.5_dp)) - 1._dp)
  !> layer thicknesses (m)
  real(dp), parameter, public :: dzsoi(nlevsoi) = [0.5_dp * (zsoi(1) + zsoi(2)), &
       (0.5_dp * (zsoi(i_ + 1) - zsoi(i_ - 1)), i_ = 2, nlevsoi - 1), &
       zsoi(nlevsoi) - zsoi(nlevsoi - 1)]
  !> interface depths (m), zisoi(0) = 0 is the surface
  real(dp), parameter, public :: zisoi(0:nlevsoi) = [0._dp, &
       (0.5_dp * (zsoi(i_) + zsoi(i_ + 1)), i_ = 1, nlevsoi - 1), &
       zsoi(nlevsoi) + 0.5_dp * dzsoi(nlevsoi)]

  public :: soil_props_from_texture, matric_potential, hydraulic_conductivity, &
       root_fractions, soil_thermal

contains

  !> Hydraulic and thermal properties from sand and clay percentages (Cosby et al. 1984,
  !! CLM4.5 eqs. 7.90-7.93 and 6.61-6.65).
  pure function soil_props_from_texture(sand, clay) result(sp)
    real(dp), intent(in) :: sand   !! sand content (%)
    real(dp), intent(in) :: clay   !! clay content (%)
    type(soil_props) :: sp
    real(dp) :: bd, ssum
    sp%watsat = 0.489_dp - 0.00126_dp * sand
    sp%sucsat = 0.01_dp * 10._dp**(1.88_dp - 0.0131_dp * sand)
    sp%bsw = 2.91_dp + 0.159_dp * clay
    sp%hksat = 0.0070556_dp * 10._dp**(-0.884_dp + 0.0153_dp * sand) * 1.e-3_dp
    ! field capacity at -3.4 m (about -33 kPa)
    sp%watfc = sp%watsat * (3.4_dp / sp%sucsat)**(-1._dp / sp%bsw)
    ssum = sand + clay
    if (ssum > 1._dp) then
      sp%csol = (2.128_dp * sand + 2.385_dp * clay) / ssum * 1.e6_dp
      sp%tksol = (8.80_dp * sand + 2.92_dp * clay) / ssum
    else
      sp%csol = 2.2e6_dp       ! silt: mean of the sand and clay values
      sp%tksol = 5.86_dp
    end if
    bd = 2700._dp * (1._dp - sp%watsat)
    sp%tkdry = (0.135_dp * bd + 64.7_dp) / (2700._dp - 0.947_dp * bd)
    sp%tksatu = sp%tksol**(1._dp - sp%watsat) * tkwat**sp%watsat
  end function soil_props_from_texture

  !> Matric potential psi (m, negative) and d psi / d theta of one layer (Clapp-Hornberger).
  pure subroutine matric_potential(sp, theta, psi, dpsi)
    type(soil_props), intent(in) :: sp   !! soil properties
    real(dp), intent(in) :: theta        !! volumetric liquid water (m3 m-3)
    real(dp), intent(out) :: psi         !! matric potential (m), floored at psi_min_m
    real(dp), intent(out) :: dpsi        !! d psi / d theta (m), 0 where floored
    real(dp) :: s
    s = max(theta, 1.e-3_dp) / sp%watsat
    s = min(s, 1._dp)
    psi = -sp%sucsat * s**(-sp%bsw)
    dpsi = -sp%bsw * psi / max(theta, 1.e-3_dp)
    if (theta >= sp%watsat) dpsi = -sp%bsw * psi / sp%watsat
    if (psi < psi_min_m) then
      psi = psi_min_m
      dpsi = 0._dp
    end if
  end subroutine matric_potential

  !> Hydraulic conductivity at wetness theta and d k / d theta (Clapp-Hornberger).
  pure subroutine hydraulic_conductivity(sp, theta, k, dk)
    type(soil_props), intent(in) :: sp   !! soil properties
    real(dp), intent(in) :: theta        !! volumetric liquid water (m3 m-3)
    real(dp), intent(out) :: k           !! conductivity (m s-1)
    real(dp), intent(out) :: dk          !! d k / d theta (m s-1)
    real(dp) :: s, ex
    ex = 2._dp * sp%bsw + 3._dp
    s = min(max(theta, 0._dp) / sp%watsat, 1._dp)
    k = sp%hksat * s**ex
    if (theta > 0._dp .and. theta < sp%watsat) then
      dk = ex * k / theta
    else
      dk = 0._dp
    end if
  end subroutine hydraulic_conductivity

  !> Root fraction per layer from the Zeng (2001) profile Y(z) = 1 - 0.5 (e^{-a z} + e^{-b z}),
  !! normalised so that the fractions of the 10 layers sum to one.
  pure subroutine root_fractions(a, b, rootfr)
    real(dp), intent(in) :: a                  !! Zeng parameter a (m-1)
    real(dp), intent(in) :: b                  !! Zeng parameter b (m-1)
    real(dp), intent(out) :: rootfr(nlevsoi)   !! fraction of roots in each layer
    integer :: i
    real(dp) :: y0, y1
    y0 = 0._dp
    do i = 1, nlevsoi
      y1 = 1._dp - 0.5_dp * (exp(-a * zisoi(i)) + exp(-b * zisoi(i)))
      rootfr(i) = y1 - y0
      y0 = y1
    end do
    rootfr = rootfr / sum(rootfr)
  end subroutine root_fractions

  !> Heat capacity (J m-3 K-1) and thermal conductivity (W m-1 K-1) of a layer of unfrozen
  !! soil with liquid water theta (Johansen 1975 Kersten number ke = log10(Sr) + 1).
  pure subroutine soil_thermal(sp, theta, cv, tk)
    type(soil_props), intent(in) :: sp   !! soil properties
    real(dp), intent(in) :: theta        !! volumetric liquid water (m3 m-3)
    real(dp), intent(out) :: cv          !! volumetric heat capacity (J m-3 K-1)
    real(dp), intent(out) :: tk          !! thermal conductivity (W m-1 K-1)
    real(dp) :: sr, ke
    cv = sp%csol * (1._dp - sp%watsat) + max(theta, 0._dp) * 4.188e6_dp
    sr = min(max(theta, 1.e-6_dp) / sp%watsat, 1._dp)
    ke = max(log10(sr) + 1._dp, 0._dp)
    tk = ke * sp%tksatu + (1._dp - ke) * sp%tkdry
    tk = max(tk, tkair)
  end subroutine soil_thermal

end module hm_soil
